"""llamabench.py: LLAMA_ARG_* -> llama-bench flags, its -o jsonl output -> the benchmark schema;
against the real llama-bench too (one short scenario, one repetition, -t 1)."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from tests.realllama import LlamaRuntime
from velollm.backends.llamacpp import llamabench
from velollm.bench.suites import Scenario, Suite, get_suite
from velollm.errors import VelollmError
from velollm.resources import load_schema

DATA = Path(__file__).resolve().parents[2] / "data" / "llamacpp"


def test_settings_become_flags_and_the_rest_is_named() -> None:
    flags, ignored = llamabench.bench_flags({
        "LLAMA_ARG_THREADS": "1", "LLAMA_ARG_FLASH_ATTN": "on", "LLAMA_ARG_CACHE_TYPE_V": "q8_0",
        "LLAMA_ARG_NO_KV_OFFLOAD": "true", "LLAMA_ARG_CTX_SIZE": "4096",
        "LLAMA_ARG_N_PARALLEL": "2", "LLAMA_ARG_CACHE_RAM": "0"})
    assert flags == ["-ctv", "q8_0", "-fa", "on", "-nkvo", "1", "-t", "1"]
    assert ignored == ["LLAMA_ARG_CACHE_RAM"]  # measured without it, and said so


def test_jsonl_of_build_11669_becomes_samples() -> None:
    """tests/data/llamacpp/llama-bench.jsonl: `-o jsonl -r 2 -p 12,40 -n 8` of the real tool."""
    rows = llamabench.parse_jsonl((DATA / "llama-bench.jsonl").read_text())
    short = Scenario("short", "x" * 35, 8)  # "Request 0.0.\n" + 35 characters: 12 tokens
    longer = Scenario("longer", "x" * 147, 8)  # 40 tokens
    together = Scenario("together", "x", 8, concurrency=4)  # no llama-bench twin: left out
    suite = Suite("t", (short, longer, together), 2)
    results = llamabench.to_results(suite, rows)
    assert [r.scenario.name for r in results] == ["short", "longer"]
    s = results[0].samples
    assert len(s) == 2 and all(x.decode_source == "llama-bench" for x in s)
    tg = next(r for r in rows if r["n_gen"] == 8)
    assert [x.decode_tps for x in s] == pytest.approx(tg["samples_ts"])
    assert s[0].eval_count == 8 and s[0].prompt_eval_count == 12
    assert s[0].eval_duration_ns == tg["samples_ns"][0]


def test_not_json_is_a_clear_error() -> None:
    with pytest.raises(VelollmError, match="not JSON"):
        llamabench.parse_jsonl("[\n")  # what -o json leaves when a test fails


@pytest.mark.realserver
def test_real_llama_bench_in_the_benchmark_schema(llama_runtime: LlamaRuntime) -> None:
    suite = get_suite("short_completion", iterations=1)
    results, doc = llamabench.measure(
        model=str(llama_runtime.model), suite=suite, binary=str(llama_runtime.bench),
        settings={"LLAMA_ARG_THREADS": "1", "LLAMA_ARG_FLASH_ATTN": "on",
                  "LLAMA_ARG_CACHE_TYPE_V": "q8_0", "LLAMA_ARG_N_PARALLEL": "2"})
    jsonschema.Draft202012Validator(load_schema("benchmark.schema.json")).validate(doc)
    assert doc["engine"] == "llama-bench" and doc["server"]["version"].startswith("b")
    argv = doc["settings"]["llama_bench"]["argv"]
    assert argv[argv.index("-o") + 1] == "jsonl" and "-fa" in argv and "-ctv" in argv
    (sample,) = results[0].samples
    assert sample.ok and sample.decode_tps and sample.decode_tps > 0
    assert sample.eval_count == 32 and doc["summary"]["requests"] == 1


@pytest.mark.realserver
def test_settings_that_do_not_go_together_fail_clearly(llama_runtime: LlamaRuntime) -> None:
    with pytest.raises(VelollmError, match="quantized V cache requires flash_attn"):
        llamabench.measure(model=str(llama_runtime.model), binary=str(llama_runtime.bench),
                           suite=get_suite("short_completion", iterations=1),
                           settings={"LLAMA_ARG_THREADS": "1", "LLAMA_ARG_FLASH_ATTN": "off",
                                     "LLAMA_ARG_CACHE_TYPE_V": "q8_0"})
