"""The llama.cpp recommendation with the real memory model (core/llama_memory): slots and
context per slot that fit, KV types with flash attention, GPU layers, pins, the profiles' Ollama
names read in llama.cpp's, router mode for several models."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.cli import hwdocs
from velollm.backends.llamacpp import BACKEND
from velollm.backends.llamacpp.knobs import capabilities
from velollm.core.hardware import Hardware
from velollm.core.models import ModelInfo
from velollm.core.optimizer import DesiredInput, Settings
from velollm.io.hardware.document import read_document

GIB = 2**30
SMOL = ModelInfo(name="smol", architecture="llama", block_count=30, embedding_length=576,
                 head_count=9, head_count_kv=(3,) * 30, key_length=64, value_length=64,
                 context_length=8192, size_bytes=98_362_432, vocab_size=49152,
                 feed_forward_length=1536)
# A 70B-class model: 80 layers, 8 KV heads of 128, ~40 GiB of weights.
BIG = replace(SMOL, name="big", block_count=80, embedding_length=8192, head_count=64,
              head_count_kv=(8,) * 80, key_length=128, value_length=128, context_length=131072,
              size_bytes=40 * GIB, feed_forward_length=28672)


def hw(vram: int | None = 24, ram: int = 64) -> Hardware:
    gpus = [hwdocs.nvidia("NVIDIA GeForce RTX 4090", vram)] if vram else []
    return read_document(hwdocs.hardware(gpus=gpus, ram_gib=ram))


def plan(server: dict[str, Any], models: list[ModelInfo], hardware: Hardware | None = None,
         objective: str = "balanced") -> Settings:
    return BACKEND.recommend(hardware or hw(), DesiredInput(server, {}, objective), models,
                             capabilities("b11669"))


def values(s: Settings) -> dict[str, Any]:
    return {r.key: r.value for r in s.server}


def test_a_small_model_gets_the_profile_s_first_choice_all_on_the_gpu() -> None:
    s = plan({}, [SMOL])
    v = values(s)
    assert (v["parallel"], v["ctx_size"]) == (4, 4 * 8192)
    assert v["gpu_layers"] == "all" and v["flash_attention"] == "on"
    assert v["kv_cache_type_k"] == v["kv_cache_type_v"] == "q8_0"
    assert v["context_length"] is None and "per slot" in s.get("context_length").reason  # type: ignore[union-attr]
    assert not s.warnings


def test_a_model_too_big_for_the_gpu_is_split_and_said() -> None:
    s = plan({}, [BIG])
    v = values(s)
    assert v["parallel"] == 1 and isinstance(v["gpu_layers"], int) and v["gpu_layers"] < 81
    assert any("big needs" in w for w in s.warnings)


def test_pins_win_and_say_what_the_optimizer_would_have_done() -> None:
    s = plan({"parallel": 3, "context_length": 1000, "kv_cache_type": "f16",
              "flash_attention": "off", "batch_size": 256}, [SMOL])
    v = values(s)
    assert (v["parallel"], v["ctx_size"], v["flash_attention"]) == (3, 3000, "off")
    assert v["kv_cache_type_k"] == "f16" and v["batch_size"] == 256
    assert s.get("parallel").source == "pin"  # type: ignore[union-attr]


def test_context_zero_is_the_trained_context_per_slot() -> None:
    v = values(plan({"context_length": 0, "parallel": 2}, [SMOL]))
    assert v["ctx_size"] == 2 * 8192


def test_a_quantized_v_cache_with_flash_attention_pinned_off_is_a_warning() -> None:
    s = plan({"kv_cache_type_v": "q4_0", "flash_attention": "off"}, [SMOL])
    assert any("needs flash attention" in w for w in s.warnings)


def test_profiles_ollama_names_mean_the_same_here() -> None:
    # the latency profile file says num_parallel: 1 and keep_alive: -1 (Ollama's names)
    s = plan({"num_parallel": 1, "keep_alive": -1, "flash_attention": True}, [SMOL],
             objective="latency")
    v = values(s)
    assert v["parallel"] == 1 and v["flash_attention"] == "on" and "keep_alive" not in v
    assert v["kv_cache_type_v"] == "f16"  # latency: full-precision cache


def test_cpu_only_uses_physical_cores_and_no_gpu_layers() -> None:
    v = values(plan({}, [SMOL], hw(vram=None, ram=16), objective="cpu-only"))
    assert v["threads"] == 8 and "gpu_layers" not in v


def test_several_models_run_in_router_mode_with_a_preset() -> None:
    server = {"models": [{"path": "/m/a.gguf", "alias": "a"}, {"path": "/m/b.gguf"}]}
    s = plan(server, [SMOL, replace(SMOL, name="b")])
    v = values(s)
    assert v["models_preset"].endswith("llamacpp-models.ini") and v["models_max"] == 2
    assert {(r.model, r.value) for r in s.models} == {("a", "/m/a.gguf"), ("b", "/m/b.gguf")}
    assert "model" not in v


def test_one_model_and_the_host_become_variables() -> None:
    v = values(plan({"host": "[::1]:9000", "models": [{"path": "/m/a.gguf"}]}, [SMOL]))
    assert (v["listen_host"], v["port"], v["model"]) == ("::1", 9000, "/m/a.gguf")
    assert v["metrics"] is True
