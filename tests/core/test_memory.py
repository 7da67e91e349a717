"""The memory model against hand-computed numbers."""

from __future__ import annotations

import pytest

from velollm.core import memory, models
from velollm.core.memory import GIB, MIB, Gpu


def _llama8b() -> models.ModelInfo:
    m = models.offline("llama3.1:8b")
    assert m is not None
    return m


def test_kv_block_sizes() -> None:
    assert memory.kv_bytes(32, "f16") == 64
    assert memory.kv_bytes(32, "q8_0") == 34
    assert memory.kv_bytes(32, "q4_0") == 18
    assert memory.kv_bytes(33, "q8_0") == 36  # 33 x 34/32 = 35.06, rounded up


def test_kv_cache_llama31_8b_by_hand() -> None:
    # 32 layers x 8 KV heads x (128 + 128) dims = 65536 elements per token.
    est = memory.estimate(_llama8b(), 8192, 4, "q8_0")
    elements = 32 * 8 * 256 * 8192 * 4
    assert est.kv == elements * 34 // 32  # 2.125 GiB
    assert est.kv == int(2.125 * GIB)
    f16 = memory.estimate(_llama8b(), 8192, 1, "f16")
    assert f16.kv == 32 * 8 * 256 * 8192 * 2 == 1 * GIB


def test_graph_llama_full_formula() -> None:
    est = memory.estimate(_llama8b(), 2048, 1, "f16")
    embd, heads, vocab, batch, ctx = 4096, 32, 128256, 512, 2048
    full = max(4 * batch * (1 + 4 * embd + ctx * (1 + heads)), 4 * batch * (embd + vocab))
    assert est.graph_full == full
    assert est.total == est.weights + est.kv + full + est.layer_weights + est.kv_layers[0]


def test_per_layer_head_count_kv_array() -> None:
    info = {"general.architecture": "llama", "llama.block_count": 3,
            "llama.embedding_length": 256, "llama.attention.head_count": 4,
            "llama.attention.head_count_kv": [4, 0, 2], "llama.context_length": 4096}
    m = models.from_metadata("mixed", info, 10 * MIB)
    assert m.head_count_kv == (4, 0, 2)
    est = memory.estimate(m, 1000, 1, "f16")
    assert est.kv_layers == (1000 * 128 * 4 * 2, 0, 1000 * 128 * 2 * 2)


def test_sliding_window_gemma3() -> None:
    info = {"general.architecture": "gemma3", "gemma3.block_count": 6,
            "gemma3.embedding_length": 512, "gemma3.attention.head_count": 4,
            "gemma3.attention.head_count_kv": 1, "gemma3.attention.key_length": 128,
            "gemma3.attention.value_length": 128, "gemma3.attention.sliding_window": 1024,
            "gemma3.context_length": 32768}
    est = memory.estimate(models.from_metadata("g3", info, 50 * MIB), 32768, 1, "f16")
    local = (1024 + 512) * 256 * 2
    assert est.kv_layers == (local,) * 5 + (32768 * 256 * 2,)


def test_fits_single_gpu_counts_reserve_and_overhead() -> None:
    est = memory.estimate(_llama8b(), 8192, 1, "f16")
    roomy = est.fits([Gpu(24 * GIB)])
    assert roomy.full and roomy.kind == "full"
    assert roomy.vram_bytes > est.weights + est.kv + memory.MINIMUM_MEMORY
    # Placement checks room for the larger of the two graph sizes (EstimateGPULayers).
    need = roomy.vram_bytes - est.graph_full + max(est.graph_full, est.graph_partial)
    assert est.fits([Gpu(need + MIB)]).full
    assert not est.fits([Gpu(need - MIB)]).full
    assert not est.fits([Gpu(need + MIB)], overhead=2 * GIB).full
    metal = est.fits([Gpu(24 * GIB, metal=True)])
    assert metal.vram_bytes - roomy.vram_bytes == memory.METAL_MINIMUM_MEMORY - memory.MINIMUM_MEMORY


def test_partial_and_cpu_placement() -> None:
    m = models.offline("llama3.3:70b")
    assert m is not None
    est = memory.estimate(m, 2048, 1, "f16")
    part = est.fits([Gpu(24 * GIB)])
    assert part.kind == "partial" and 0 < part.layers < 81 and part.cpu_bytes > 0
    assert est.fits([]).kind == "cpu"
    assert est.fits([Gpu(80 * GIB)]).full
    # Two GPUs: it goes on one when it fits there (no SCHED_SPREAD), on both when spread.
    two = est.fits([Gpu(80 * GIB), Gpu(80 * GIB)])
    assert two.full and min(two.gpu_bytes) == 0
    assert all(est.fits([Gpu(80 * GIB), Gpu(80 * GIB)], spread=True).gpu_bytes)


def test_num_gpu_caps_layers() -> None:
    est = memory.estimate(_llama8b(), 2048, 1, "f16")
    assert est.fits([Gpu(24 * GIB)], num_gpu=10).layers == 10
    assert est.fits([Gpu(24 * GIB)], num_gpu=0).kind == "cpu"


@pytest.mark.parametrize("name", models.known_models())
def test_offline_table_is_consistent(name: str) -> None:
    m = models.offline(name)
    assert m is not None and m.offline and m.source == "offline"
    assert m.block_count > 0 and len(m.head_count_kv) == m.block_count
    assert m.key_length * m.head_count >= m.embedding_length // 2
    est = memory.estimate(m, 4096)
    assert est.offline and est.total > m.size_bytes


def test_from_show_parses_server_answer() -> None:
    show = {"details": {"parameter_size": "8.0B", "quantization_level": "Q4_K_M"},
            "model_info": {"general.architecture": "llama", "general.parameter_count": 8030261248,
                           "llama.block_count": 32, "llama.embedding_length": 4096,
                           "llama.attention.head_count": 32, "llama.attention.head_count_kv": 8,
                           "llama.context_length": 131072, "llama.vocab_size": 128256}}
    m = models.from_show(show, {"name": "llama3.1:8b", "size": 4920753328})
    assert m == models.from_metadata("llama3.1:8b", show["model_info"], 4920753328,
                                     details=show["details"])
    assert (m.key_length, m.value_length, m.head_count_kv[0]) == (128, 128, 8)
    assert m.quantization == "Q4_K_M" and m.parameter_count == 8030261248 and not m.offline
    assert models.offline("llama3.1:latest") is not None
    assert models.offline("no-such-model:1b") is None
