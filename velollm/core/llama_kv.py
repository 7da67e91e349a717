"""The per-layer sizes llama.cpp allocates for one context: KV cache, recurrent state, output, compute.

Pure. Each formula follows llama.cpp's source (b11434, the build family the tests run):
`llama_context` (n_ctx padding, output buffer), `llama_kv_cache(_iswa)` (cells per stream, sliding
windows), `llama_memory_recurrent` (r/s rows), and the compute buffer that `sched_reserve` measures
for the worst-case prompt graph. The compute formula was fitted to llama-server's own
`compute buffer size` lines (benchmarks/memory_accuracy.py prints the grid it was checked on).
"""

from __future__ import annotations

from dataclasses import dataclass

from velollm.core.models import ModelInfo

# ggml block sizes (bytes per block, elements per block), ggml-common.h / ggml.c type_traits.
GGML_TYPES: dict[str, tuple[int, int]] = {
    "f32": (4, 1), "f16": (2, 1), "bf16": (2, 1), "q8_0": (34, 32), "q4_0": (18, 32),
    "q4_1": (20, 32), "q5_0": (22, 32), "q5_1": (24, 32), "iq4_nl": (18, 32),
}
PAD = 256  # llama_context pads n_ctx (and n_ctx_seq) to 256; the SWA cache too
# Sliding-window pattern per architecture, where GGUF carries none: (n_pattern, dense_first)
# as each models/<arch>.cpp calls load_swa_pattern(); every n_pattern-th layer is global.
SWA_PATTERNS: dict[str, tuple[int, bool]] = {
    "gemma2": (2, False), "gemma3": (6, False), "gemma3n": (5, False), "gemma-embedding": (6, False),
    "cohere2": (4, False), "cohere2moe": (4, True), "gpt-oss": (2, False), "llama4": (4, False),
    "exaone4": (4, False), "exaone-moe": (4, False), "olmo2": (4, False), "mellum": (4, False),
    "afmoe": (4, False), "plamo3": (8, False), "smallthinker": (4, True), "phi3": (1, False),
}


def row_bytes(type_name: str, elements: int) -> int:
    """ggml_row_size: whole blocks of a type (q8_0: 34 bytes per 32 values)."""
    size, block = GGML_TYPES.get(type_name.lower(), GGML_TYPES["f16"])
    return -(-elements // block) * size


def pad(value: int, to: int = PAD) -> int:
    return -(-value // to) * to


@dataclass(frozen=True)
class Context:
    """What llama_context makes of -c, -np, -ub, -b (llama-context.cpp constructor)."""

    n_ctx: int  # all streams together
    n_ctx_seq: int  # cells per stream (per slot, or all of them when unified)
    n_stream: int  # one per slot unless the KV cache is unified
    ubatch: int
    slots: int


def context(ctx_per_slot: int, slots: int, ubatch: int, batch: int,
            unified: bool = False) -> Context:
    """`unified`: one KV stream shared by the slots (--kv-unified; llama-server's own choice
    when -np is not given: 4 slots, unified)."""
    slots = max(1, slots)
    n_ctx = pad(max(1, ctx_per_slot) * slots)
    n_ctx_seq = n_ctx if unified else pad(n_ctx // slots)
    streams = 1 if unified else slots
    n_batch = min(n_ctx_seq * streams, batch)  # causal attention: the batch cannot exceed n_ctx
    return Context(n_ctx_seq * streams, n_ctx_seq, streams, min(n_batch, ubatch), slots)


def swa_layers(model: ModelInfo) -> tuple[bool, ...]:
    """Which layers keep only a sliding window (llama_hparams::set_swa_pattern)."""
    n = model.block_count
    if model.swa_layers is not None:
        return tuple(model.swa_layers[:n]) + (False,) * (n - len(model.swa_layers))
    pattern = SWA_PATTERNS.get(model.architecture)
    if not model.sliding_window or pattern is None:
        return (False,) * n
    every, dense_first = pattern
    if dense_first:
        return tuple(i % every != 0 for i in range(n))
    return tuple(i % every < every - 1 for i in range(n))


def recurrent_layers(model: ModelInfo) -> tuple[bool, ...]:
    if model.recurrent_layers is not None:
        return tuple(model.recurrent_layers[:model.block_count])
    return (False,) * model.block_count


def kv_cells(model: ModelInfo, ctx: Context) -> tuple[int, ...]:
    """KV cells of each layer, all streams: 0 for recurrent layers; SWA layers keep window + ubatch."""
    swa_size = pad(min(ctx.n_ctx_seq, _window_cells(model, ctx)))
    recurrent = recurrent_layers(model)
    return tuple(0 if recurrent[i] or model.head_count_kv[i] == 0
                 else (swa_size if swa else ctx.n_ctx_seq) * ctx.n_stream
                 for i, swa in enumerate(swa_layers(model)))


def _window_cells(model: ModelInfo, ctx: Context) -> int:
    """A sliding-window stream: the window of each slot it holds, plus one ubatch."""
    slots_per_stream = ctx.slots // ctx.n_stream
    return (model.sliding_window or 0) * slots_per_stream + ctx.ubatch


def kv_layer_bytes(model: ModelInfo, ctx: Context, type_k: str, type_v: str,
                   flash_attention: bool = True) -> tuple[int, ...]:
    """K and V rows of each layer (llama_kv_cache's constructor): a layer past kv_layer_count
    reuses an earlier one's cache; MLA keeps no V; without flash attention V is stored transposed
    at the widest layer's size when the sizes differ."""
    cells = kv_cells(model, ctx)
    swa = swa_layers(model)
    full = (model.key_length, model.value_length)
    sliding = (model.key_length_swa or model.key_length,
               model.value_length_swa or model.value_length)
    dims = [sliding if swa[i] else full for i in range(model.block_count)]
    widest_v = max((v * h for (_, v), h in zip(dims, model.head_count_kv, strict=False)),
                   default=0)
    out = []
    for i, heads in enumerate(model.head_count_kv):
        if model.kv_layer_count is not None and i >= model.kv_layer_count:
            out.append(0)
            continue
        k, v = dims[i]
        v_row = 0 if model.mla else widest_v if not flash_attention else v * heads
        out.append(cells[i] * (row_bytes(type_k, k * heads) + row_bytes(type_v, v_row)))
    return tuple(out)


def recurrent_layer_bytes(model: ModelInfo, ctx: Context) -> tuple[int, ...]:
    """f32 conv (r) and scan (s) state rows, one per slot (llama_memory_recurrent, llama_hparams)."""
    conv, inner = model.ssm_conv_kernel or 0, model.ssm_inner_size or 0
    state, groups = model.ssm_state_size or 0, model.ssm_group_count or 0
    if model.shortconv_l_cache:
        n_r, n_s = model.embedding_length * (model.shortconv_l_cache - 1), 0
    else:
        n_r, n_s = max(conv - 1, 0) * (inner + 2 * groups * state), state * inner
    per_layer = 4 * (n_r + n_s) * max(1, ctx.slots)
    return tuple(per_layer if r else 0 for r in recurrent_layers(model))


def output_bytes(model: ModelInfo, ctx: Context) -> int:
    """Host logits buffer: n_vocab floats per output; llama-server reserves one output per slot."""
    return 4 * (model.vocab_size or 0) * max(1, ctx.slots)


def compute_bytes(model: ModelInfo, ctx: Context, flash_attention: bool, type_k: str = "f16") -> int:
    """Peak of the worst-case prompt graph (ubatch tokens over a full cache), as sched_reserve finds.

    Fitted to llama-server's `compute buffer size` (benchmarks/memory_accuracy.py). Per token the
    graph holds the residual stream and the FFN's gate/up/act (3 x ff + 5 x embd floats); while
    attending, Q/K/V and their copies, plus without flash attention the f32 KQ scores of every head
    over the whole cache of one stream; in a Mamba-2 layer the projections, the convolution and
    the scan with its per-slot states. The KQ mask (f16 with FA, f32 without) lives throughout.
    The ubatch is split evenly over the streams (one per slot), rounded up.
    """
    n_kv = ctx.n_ctx_seq
    ub = -(-ctx.ubatch // ctx.n_stream) * ctx.n_stream
    embd = model.embedding_length
    ff = model.feed_forward_length or 4 * embd
    if model.expert_used_count and model.expert_feed_forward_length:
        # the routed (and shared) experts' FFN, or a dense layer's where that is wider (DeepSeek's
        # leading dense layers; a feed_forward_length no layer uses only errs on the safe side)
        experts = model.expert_used_count + (model.expert_shared_count or 0)
        ff = max(model.feed_forward_length or 0, experts * model.expert_feed_forward_length)
    swa = any(swa_layers(model))
    swa_kv = pad(min(n_kv, _window_cells(model, ctx))) if swa else 0
    mask = (2 if flash_attention else 4) * (n_kv + swa_kv) * ub
    phases = [3 * ff + 5 * embd]  # floats per token
    if any(h for h in model.head_count_kv):
        kv_dims = model.max_head_count_kv * (model.key_length + model.value_length)
        phases.append(embd + 5 * model.head_count * model.key_length + kv_dims
                      + (0 if flash_attention else n_kv * model.head_count))
    peak = 4 * ub * max(phases)
    if any(recurrent_layers(model)) and model.ssm_state_size and model.ssm_inner_size:
        peak = max(peak, 4 * _mamba2_floats(model, ub, ctx.slots))  # states: every slot
    if flash_attention and type_k.lower() not in ("f16", "f32", "bf16"):
        # Measured, not traced to one tensor: a quantized K cache adds about 2 bytes per
        # vocabulary entry (Gemma 3 270M: +0.50 MiB at every context and ubatch), at least 64 KiB.
        peak += max(64 * 1024, 2 * (model.vocab_size or 0))
    return mask + peak


def _mamba2_floats(model: ModelInfo, ub: int, seqs: int) -> int:
    """A Mamba-2 layer's live tensors: in-projection, convolution input, x/B/C, scan output, gating."""
    inner, state = model.ssm_inner_size or 0, model.ssm_state_size or 0
    groups = model.ssm_group_count or 1
    conv_dim = inner + 2 * groups * state
    in_proj = 2 * inner + 2 * groups * state
    per_state = state * inner
    return (ub * (model.embedding_length + in_proj + conv_dim + 4 * inner)
            + seqs * (2 * per_state + 4 * conv_dim) + 2 * per_state)
