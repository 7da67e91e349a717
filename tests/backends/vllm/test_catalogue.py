"""The vLLM knob catalogue against vLLM 0.32.0's own source: every flag velollm writes is one
`vllm serve` registers (read from the wheel by extract_args.py into data/), the defaults and
choices are the config dataclasses', the VLLM_* names are envs.py's; and values are checked with
vLLM's parsing rules (human_readable_int's 1k = 1000, 1K = 1024)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from velollm.backends.vllm import knobs
from velollm.backends.vllm.knobdata import CACHE_DTYPES, KNOBS, MODEL_DTYPES, NOT_KNOBS, TESTED

DATA = json.loads((Path(__file__).parent / "data" / "vllm-0.32.0-args.json").read_text())
FLAGS = set(DATA["flags"])


def test_the_extract_is_of_the_tested_version() -> None:
    assert DATA["version"] == TESTED


def test_every_catalogued_flag_is_registered_by_vllm_serve() -> None:
    for knob in KNOBS.values():
        for flag in knob.flags:
            assert flag in FLAGS, f"{knob.key}: {flag} is not an argument of vllm {TESTED}"


def test_every_variable_is_one_vllm_reads() -> None:
    for knob in KNOBS.values():
        if knob.env:
            assert knob.env in DATA["envs"], knob.env


def test_swap_space_is_gone_and_said_so() -> None:
    assert "--swap-space" not in FLAGS
    assert "swap_space" not in KNOBS and "argparse refuses it" in NOT_KNOBS["swap_space"]
    assert knobs.value_problem("swap_space", 4) == NOT_KNOBS["swap_space"]


@pytest.mark.parametrize(("field", "key"), [
    ("CacheConfig.gpu_memory_utilization", "gpu_memory_utilization"),
    ("CacheConfig.cache_dtype", "kv_cache_dtype"),
    ("ModelConfig.dtype", "dtype"),
    ("ModelConfig.enforce_eager", "enforce_eager"),
    ("ParallelConfig.tensor_parallel_size", "tensor_parallel_size"),
    ("ParallelConfig.pipeline_parallel_size", "pipeline_parallel_size"),
    ("ParallelConfig.data_parallel_size", "data_parallel_size"),
    ("UVAOffloadConfig.cpu_offload_gb", "cpu_offload_gb"),
    ("FrontendArgs.port", "port"),
    ("FrontendArgs.host", "host"),
    ("ModelConfig.max_model_len", "max_model_len"),
])
def test_defaults_are_the_config_dataclasses(field: str, key: str) -> None:
    default = DATA["defaults"][field]
    written = None if default is None else str(default).lower()
    assert KNOBS[key].default == written


def test_choices_are_vllms_literals() -> None:
    assert list(CACHE_DTYPES) == DATA["literals"]["CacheDType"]
    assert list(MODEL_DTYPES) == DATA["literals"]["ModelDType"]


@pytest.mark.parametrize(("text", "value"), [
    ("1k", 1000), ("1K", 1024), ("25.6k", 25600), ("2M", 2 << 20), ("4096", 4096)])
def test_human_readable_int_is_vllms(text: str, value: int) -> None:
    # the examples of vllm/utils/argparse_utils.py's docstring
    assert knobs.human_readable_int(text) == value


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("gpu_memory_utilization", 0, "not above the minimum of 0"),
    ("gpu_memory_utilization", 1.2, "above the maximum of 1"),
    ("gpu_memory_utilization", "most", "is not a number"),
    ("max_model_len", "8x", "1k = 1000, 1K = 1024"),
    ("max_model_len", 0, "serves nothing"),
    ("max_model_len", -2, "below the minimum of -1"),
    ("max_num_seqs", 0, "below the minimum of 1"),
    ("kv_cache_dtype", "q8_0", "is not one of auto, float16"),
    ("enforce_eager", "maybe", "is not a boolean"),
    ("speculative_config", "{not json", "is not a JSON object"),
    ("served_model_name", "two words", "without spaces"),
    ("host", True, "is not a string"),
    ("port", 70000, "above the maximum of 65535"),
    ("dtype", "auto", None), ("max_model_len", "32K", None), ("max_model_len", -1, None),
    ("max_model_len", "auto", None), ("served_model_name", ["a", "b"], None),
    ("speculative_config", {"method": "ngram", "num_speculative_tokens": 4}, None),
    ("cpu_kvcache_space", 8, None), ("enable_prefix_caching", False, None),
])
def test_value_problems(key: str, value: object, problem: str | None) -> None:
    got = knobs.value_problem(key, value)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got, got


def test_auto_only_where_the_optimizer_chooses() -> None:
    assert knobs.value_problem("max_model_len", "auto") is None
    assert knobs.value_problem("dtype", "auto") is None  # dtype's own choice, not velollm's
    assert knobs.value_problem("port", "auto") == "port cannot be auto: give a value"


def test_written_strings() -> None:
    assert knobs.setting_value("enforce_eager", True) == "true"
    assert knobs.setting_value("allow_long_max_model_len", True) == "1"  # a variable
    assert knobs.setting_value("served_model_name", ["a", "b"]) == "a b"
    assert knobs.setting_value("speculative_config", {"num_speculative_tokens": 4,
                                                      "method": "ngram"}) == \
        '{"method":"ngram","num_speculative_tokens":4}'
    assert KNOBS["api_key"].name == "VLLM_API_KEY"  # never on the command line (ps shows it)


def test_argv_round_trip() -> None:
    settings = {"--max-model-len": "4096", "--enforce-eager": "true",
                "--enable-prefix-caching": "false", "--served-model-name": "a b",
                "--gpu-memory-utilization": "0.5", "VLLM_CPU_KVCACHE_SPACE": "4"}
    argv = knobs.settings_argv(settings)
    assert "--no-enable-prefix-caching" in argv and "VLLM_CPU_KVCACHE_SPACE" not in argv
    model, back = knobs.argv_settings(["python", "-m", "vllm.entrypoints.openai.api_server",
                                       "--model", "/m", *argv])
    assert model == "/m"
    assert back == {k: v for k, v in settings.items() if k.startswith("--")}


def test_argv_reader_takes_short_and_equals_forms() -> None:
    _, got = knobs.argv_settings(["vllm", "serve", "m", "-tp", "2", "--max-model-len=8k",
                                  "--unknown", "x", "--seed", "-1", "-q", "awq"])
    assert got == {"--tensor-parallel-size": "2", "--max-model-len": "8k",
                   "--quantization": "awq"}


def test_traps() -> None:
    warned = knobs.trap_warnings({"max_model_len": "32k"}, "0.32.0")
    assert warned == [("max_model_len 32k is 32,000 tokens: vLLM reads a lower-case suffix as a "
                      "power of 1000 (write 32K for 32,768)")]
    assert "catalogue of 0.32.0" in knobs.trap_warnings({}, "0.11.0")[0]
    assert knobs.trap_warnings({}, "0.32.0+cpu") == []
    both = knobs.trap_warnings({"kv_cache_memory_bytes": "4G", "gpu_memory_utilization": 0.5},
                               None)
    assert any("does not size the KV cache" in w for w in both)


def test_canonical_forms_compare_equal() -> None:
    assert knobs.canonical("--max-model-len", "1k") == knobs.canonical("--max-model-len", "1000")
    assert knobs.canonical("--gpu-memory-utilization", "0.90") == \
        knobs.canonical("--gpu-memory-utilization", "0.9")


@pytest.mark.heavy
def test_the_saved_extract_is_what_the_installed_vllm_says() -> None:
    """data/ re-extracted from the provisioned venv (tests/realvllm.py), so it cannot go stale."""
    from tests.backends.vllm.extract_args import extract
    from tests.realvllm import find_runtime

    runtime = find_runtime()
    if isinstance(runtime, str):
        pytest.skip(runtime)
    [site] = runtime.python.parent.parent.glob("lib/python3*/site-packages")
    assert extract(str(site)) == DATA
