"""The Ollama search space of `velollm tune`, pure: the knobs the version reads, candidates pruned
before they run with the reason Ollama's own rules or the memory model give, the request options
and the velollm.yaml pins of a candidate."""

from __future__ import annotations

from velollm.core.memory import Gpu
from velollm.core.models import ModelInfo
from velollm.core.tune_space import (
    OllamaRules,
    ollama_options,
    ollama_pins,
    ollama_prune,
    ollama_space,
)
from velollm.core.workload import Workload

GIB = 2**30
# A 1.2 GiB llama-shaped model: 16 layers, 8 KV heads of 64 (as a 1B model is).
MODEL = ModelInfo("m", "llama", 16, 2048, 32, (8,) * 16, 64, 64, 131072, int(1.2 * GIB))
CPU_OLD = OllamaRules(gpus=(), quantized_kv_needs_gpu=True)  # Ollama 0.5.4 on a CPU
GPU_NEW = OllamaRules(gpus=(Gpu(24 * GIB),), quantized_kv_needs_gpu=False)
BASE = {"num_parallel": 2, "num_batch": 512, "num_thread": 4, "flash_attention": False,
        "kv_cache_type": "f16"}
W = Workload(concurrency=4, prompt_tokens=1000, output_tokens=200)


def test_the_space_offers_no_more_slots_than_concurrent_requests() -> None:
    space = ollama_space(Workload(concurrency=3), cores=8)
    assert space.dimensions == {"num_parallel": (1, 2, 3), "num_batch": (128, 512),
                                "num_thread": (1, 4, 8), "flash_attention": (True, False),
                                "kv_cache_type": ("f16", "q8_0")}


def test_knobs_the_version_does_not_read_are_left_out() -> None:
    # Ollama 0.4 reads neither OLLAMA_KV_CACHE_TYPE (0.5.0) nor, before 0.1.39, flash attention
    space = ollama_space(Workload(), cores=2, flash_attention=False, kv_cache_type=False)
    assert set(space.dimensions) == {"num_parallel", "num_batch", "num_thread"}
    assert space.size() == 1 * 2 * 2


def test_a_fitting_candidate_runs() -> None:
    assert ollama_prune(BASE, W, MODEL, 16 * GIB, CPU_OLD) is None
    fa_q8 = {**BASE, "flash_attention": True, "kv_cache_type": "q8_0"}
    assert ollama_prune(fa_q8, W, MODEL, 16 * GIB, GPU_NEW) is None


def test_rules_prune_with_the_reason() -> None:
    def why(candidate: dict[str, object], rules: OllamaRules = CPU_OLD) -> str:
        return ollama_prune(candidate, W, MODEL, 16 * GIB, rules) or ""

    assert "idle slots" in why({**BASE, "num_parallel": 8})
    assert "needs flash attention" in why({**BASE, "kv_cache_type": "q8_0"}, GPU_NEW)
    assert "needs a GPU before Ollama 0.30" in why({**BASE, "flash_attention": True,
                                                    "kv_cache_type": "q8_0"})
    assert "the same as flash_attention=false" in why({**BASE, "flash_attention": True})
    # Ollama >= 0.30 runs flash attention and a quantized cache on the CPU too
    cpu_new = OllamaRules(gpus=(), quantized_kv_needs_gpu=False)
    assert why({**BASE, "flash_attention": True, "kv_cache_type": "q8_0"}, cpu_new) == ""
    dropped = OllamaRules(gpus=GPU_NEW.gpus, quantized_kv_needs_gpu=True,
                          flash_attention_dropped=True)
    assert "architecture" in why({**BASE, "flash_attention": True}, dropped)


def test_the_memory_model_prunes_what_would_not_fit_or_would_spill() -> None:
    long = Workload(concurrency=16, prompt_tokens=8000, output_tokens=1000)
    assert "GiB available (memory model)" in (
        ollama_prune({**BASE, "num_parallel": 16}, long, MODEL, 4 * GIB, CPU_OLD) or "")
    assert ollama_prune({**BASE, "num_parallel": 1}, long, MODEL, 4 * GIB, CPU_OLD) is None
    # one slot fits a 5.5 GiB GPU; four 11k-token slots spill 4 layers to the CPU at f16 ...
    small = OllamaRules(gpus=(Gpu(int(5.5 * GIB)),), quantized_kv_needs_gpu=False)
    assert ollama_prune({**BASE, "num_parallel": 1}, long, MODEL, 64 * GIB, small) is None
    four = {**BASE, "num_parallel": 4, "flash_attention": True}
    assert ollama_prune(four, long, MODEL, 64 * GIB, small) == (
        "spills 4 of 17 layers to the CPU where one slot fits the GPU (memory model)")
    # ... and fit with a q4_0 cache
    assert ollama_prune({**four, "kv_cache_type": "q4_0"}, long, MODEL, 64 * GIB, small) is None
    # no GPU fits even one slot: partial offload is then the best there is, and is run
    tiny_gpu = OllamaRules(gpus=(Gpu(GIB),), quantized_kv_needs_gpu=False)
    assert ollama_prune(four, long, MODEL, 64 * GIB, tiny_gpu) is None


def test_options_and_pins_split_model_parameters_from_server_knobs() -> None:
    w = Workload(concurrency=2, prompt_tokens=200, output_tokens=56)
    assert ollama_options(BASE, w) == {"num_ctx": 512, "num_batch": 512, "num_thread": 4}
    assert ollama_options({}, w) == {"num_ctx": 512}  # the defaults, with room for the workload
    assert ollama_pins(BASE) == {"num_parallel": 2, "flash_attention": False,
                                 "kv_cache_type": "f16"}
    assert ollama_pins({"num_batch": 128}) == {}
