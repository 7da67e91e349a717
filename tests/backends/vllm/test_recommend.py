"""vLLM's recommendation with the real memory model: the profile's (concurrency, length)
candidates on a GPU, the RAM share and eager mode on the CPU, pins, and what happens without
the model's config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import hwdocs
from velollm.backends.vllm import BACKEND
from velollm.backends.vllm.modelinfo import from_config, gather
from velollm.core.hardware import Hardware
from velollm.core.optimizer import DesiredInput
from velollm.errors import ConfigError

SMOL = from_config("smol", {"architectures": ["LlamaForCausalLM"], "hidden_size": 576,
                            "intermediate_size": 1536, "num_hidden_layers": 30,
                            "num_attention_heads": 9, "num_key_value_heads": 3,
                            "max_position_embeddings": 8192, "vocab_size": 49152},
                   269_060_552)
# An 8B model of Llama 3's shape: 32 layers, 8 KV heads of 128, 16 GB of bfloat16 weights.
LLAMA8B = from_config("llama8b", {"hidden_size": 4096, "intermediate_size": 14336,
                                  "num_hidden_layers": 32, "num_attention_heads": 32,
                                  "num_key_value_heads": 8, "max_position_embeddings": 131072,
                                  "vocab_size": 128256}, 16_060_522_496)


def hardware(gib: int | None) -> Hardware:
    gpus = [] if gib is None else [hwdocs.nvidia("NVIDIA GPU", gib)]
    return Hardware.from_dict(hwdocs.hardware(gpus=gpus, ram_gib=64))


def recommend(hw: Hardware, model: object = SMOL, objective: str = "balanced",
              **server: object) -> dict[str, object]:
    s = BACKEND.recommend(hw, DesiredInput(server=server, objective=objective), [model],
                          BACKEND.capabilities("0.32.0"))
    return {r.key: r.value for r in s.server}


def test_shape_from_config_json() -> None:
    assert (SMOL.block_count, SMOL.max_head_count_kv, SMOL.key_length) == (30, 3, 64)
    nested = from_config("g", {"text_config": {"num_hidden_layers": 2, "hidden_size": 8,
                                               "num_attention_heads": 2}}, 1)
    assert (nested.block_count, nested.head_count_kv, nested.key_length) == (2, (2, 2), 4)


def test_a_large_model_gets_the_length_its_concurrency_allows() -> None:
    # 20 GiB x 0.90 - 15 GiB of weights - activations - graphs leaves 2.25 GiB at 128 KiB per
    # token: 8,192 tokens x 4 requests (the balanced profile's first wish) do not fit, x 2 do.
    got = recommend(hardware(20), LLAMA8B)
    assert got["gpu_memory_utilization"] == 0.9 and got["max_model_len"] == 8192
    s = BACKEND.recommend(hardware(20), DesiredInput(objective="balanced"), [LLAMA8B],
                          BACKEND.capabilities(None))
    [length] = [r for r in s.server if r.key == "max_model_len"]
    assert "maximum concurrency for 8,192 tokens per request: 2." in length.reason


def test_long_context_profile_takes_the_longest_that_fits() -> None:
    assert recommend(hardware(80), LLAMA8B, "long-context")["max_model_len"] == 131072
    assert recommend(hardware(24), LLAMA8B, "long-context")["max_model_len"] == 32768


def test_cpu_only_uses_a_ram_share_and_eager_mode() -> None:
    got = recommend(hardware(None))
    assert got["enforce_eager"] is True
    assert 0.5 < float(str(got["gpu_memory_utilization"])) < 0.92


def test_pins_win_and_a_length_that_cannot_fit_is_refused() -> None:
    got = recommend(hardware(24), LLAMA8B, max_model_len="16K", gpu_memory_utilization=0.95,
                    kv_cache_dtype="fp8")
    assert got["max_model_len"] == "16K" and got["gpu_memory_utilization"] == 0.95
    assert got["kv_cache_dtype"] == "fp8"
    with pytest.raises(ConfigError, match="vLLM refuses to start"):
        recommend(hardware(24), LLAMA8B, max_model_len=131072)


def test_without_the_config_the_length_is_left_to_vllm(tmp_path: Path) -> None:
    s = BACKEND.recommend(hardware(24), DesiredInput(), [], BACKEND.capabilities(None))
    assert "max_model_len" not in {r.key for r in s.server}
    assert any("config.json was not read" in w for w in s.warnings)
    assert gather(None)[1] == ["no server.model in velollm.yaml: vLLM needs one to start"]
    assert "is not a directory here" in gather("org/model")[1][0]
    (tmp_path / "config.json").write_text(json.dumps([1]))
    assert "cannot read its config.json" in gather(str(tmp_path))[1][0]
