"""vLLM's block budget, by hand: SmolLM2-135M's shape (config.json: 30 layers, 3 KV heads of 64,
hidden 576, intermediate 1536, vocabulary 49152) on a 24 GiB GPU and on a small one."""

from __future__ import annotations

from velollm.core.vllm_memory import (
    CUDA_GRAPH_ALLOWANCE,
    GIB,
    VllmModel,
    VllmSettings,
    allocate,
    kv_bytes_per_token,
    refusal,
)

SMOL = VllmModel(layers=30, kv_heads=3, head_dim=64, hidden=576, intermediate=1536,
                 vocab=49152, weight_bytes=269_060_552, max_position=8192)


def test_kv_bytes_per_token_are_k_and_v_of_every_layer() -> None:
    assert kv_bytes_per_token(SMOL, VllmSettings(device_bytes=GIB)) == 2 * 30 * 3 * 64 * 2
    fp8 = VllmSettings(device_bytes=GIB, kv_dtype_bytes=1, tensor_parallel=3)
    assert kv_bytes_per_token(SMOL, fp8) == 2 * 30 * 1 * 64 * 1  # 3 KV heads over 3 GPUs


def test_what_remains_of_the_budget_is_cut_into_blocks() -> None:
    m = allocate(SMOL, VllmSettings(device_bytes=24 * GIB, utilization=0.9))
    budget = int(24 * GIB * 0.9)
    activations = 2048 * (2 * 1536 + 4 * 576) * 2 + 256 * 49152 * 4
    kv = budget - 269_060_552 - activations - CUDA_GRAPH_ALLOWANCE
    block = 23_040 * 16
    assert (m.budget, m.activations, m.kv_bytes, m.block_bytes) == (budget, activations, kv,
                                                                     block)
    assert m.num_blocks == kv // block == 60_532
    assert m.blocks_per_request == 8192 // 16
    assert m.max_concurrency == 60_532 / 512  # "Maximum concurrency for 8,192 tokens: 118.23x"
    assert m.kv_tokens == int(60_532 / 512 * 8192)
    assert "maximum concurrency for 8,192 tokens per request: 118.23x" in m.explain()
    assert refusal(m) is None


def test_fixed_kv_cache_size_wins_over_the_utilization() -> None:
    m = allocate(SMOL, VllmSettings(device_bytes=24 * GIB, kv_cache_bytes=GIB,
                                    cuda_graphs=False, block_size=128, max_model_len=4096))
    assert m.kv_bytes == GIB and m.num_blocks == GIB // (23_040 * 128)
    assert m.blocks_per_request == 32


def test_a_length_no_block_budget_holds_is_refused_with_the_longest_that_fits() -> None:
    small = VllmSettings(device_bytes=GIB, utilization=0.9, max_model_len=1_000_000,
                         cuda_graphs=False)
    m = allocate(SMOL, small)
    assert not m.fits
    problem = refusal(m)
    assert problem is not None and "vLLM refuses to start" in problem
    assert f"hold {m.num_blocks * 16:,} tokens" in problem
    nothing = allocate(SMOL, VllmSettings(device_bytes=GIB // 4, utilization=0.5))
    assert nothing.num_blocks == 0 and "no memory is left" in str(refusal(nothing))
