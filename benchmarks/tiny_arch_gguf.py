"""Random-weight GGUF models of the architectures the memory grid needs beyond plain llama.

`moe`: qwen3moe (routed experts, the tensors --fit moves to host memory first); `hybrid`:
granitehybrid (Mamba-2 layers with recurrent state, and attention layers with a KV cache, told
apart by head_count_kv = 0 as llama.cpp does); `lfm2`: LFM2 (short-convolution layers + attention).
Tensor names and shapes follow llama.cpp's models/<arch>.cpp; the vocabulary is the one of
tests/realrt/make_tiny_gguf.py. Needs gguf and numpy.

usage: python benchmarks/tiny_arch_gguf.py {moe,hybrid,lfm2,mla} OUT.gguf
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gguf
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(0)


def _vocab() -> tuple[list[str], list[float], list[int]]:
    spec = importlib.util.spec_from_file_location("make_tiny_gguf", ROOT / "tests" / "realrt" / "make_tiny_gguf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tokens, scores, types = module.build_vocab()
    return list(tokens), list(scores), [int(t) for t in types]


def _w(*shape: int, f32: bool = False) -> Any:
    """A weight in numpy order (ggml's ne reversed), f16 for matrices unless `f32`."""
    dtype = np.float16 if len(shape) > 1 and not f32 else np.float32
    return (RNG.standard_normal(shape) * 0.02).astype(dtype)


def _ones(n: int) -> Any:
    return np.ones(n, dtype=np.float32)


def _writer(path: Path, arch: str, embd: int, layers: int, heads: int, kv: list[int] | int,
            ff: int) -> tuple[gguf.GGUFWriter, int]:
    tokens, scores, types = _vocab()
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(f"tiny-random-{arch}")
    w.add_context_length(8192)
    w.add_embedding_length(embd)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(tokens))
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_tensor("token_embd.weight", _w(len(tokens), embd))
    return w, len(tokens)


def _attention(w: gguf.GGUFWriter, p: str, embd: int, q_dim: int, kv_dim: int, head_dim: int,
               norms: bool = True) -> None:
    w.add_tensor(p + "attn_q.weight", _w(q_dim, embd))
    w.add_tensor(p + "attn_k.weight", _w(kv_dim, embd))
    w.add_tensor(p + "attn_v.weight", _w(kv_dim, embd))
    w.add_tensor(p + "attn_output.weight", _w(embd, q_dim))
    if norms:
        w.add_tensor(p + "attn_q_norm.weight", _ones(head_dim))
        w.add_tensor(p + "attn_k_norm.weight", _ones(head_dim))


def _dense_ffn(w: gguf.GGUFWriter, p: str, embd: int, ff: int) -> None:
    w.add_tensor(p + "ffn_norm.weight", _ones(embd))
    w.add_tensor(p + "ffn_gate.weight", _w(ff, embd))
    w.add_tensor(p + "ffn_up.weight", _w(ff, embd))
    w.add_tensor(p + "ffn_down.weight", _w(embd, ff))


def _finish(w: gguf.GGUFWriter) -> None:
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def moe(path: Path, embd: int = 256, layers: int = 4, heads: int = 4, kv: int = 2,
        experts: int = 8, used: int = 2, ff_exp: int = 256) -> None:
    head_dim = embd // heads
    w, n_vocab = _writer(path, "qwen3moe", embd, layers, heads, kv, ff_exp)
    w.add_uint32("qwen3moe.expert_count", experts)
    w.add_uint32("qwen3moe.expert_used_count", used)
    w.add_uint32("qwen3moe.expert_feed_forward_length", ff_exp)
    w.add_tensor("output_norm.weight", _ones(embd))
    w.add_tensor("output.weight", _w(n_vocab, embd))
    for i in range(layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", _ones(embd))
        _attention(w, p, embd, heads * head_dim, kv * head_dim, head_dim)
        w.add_tensor(p + "ffn_norm.weight", _ones(embd))
        w.add_tensor(p + "ffn_gate_inp.weight", _w(experts, embd))
        w.add_tensor(p + "ffn_gate_exps.weight", _w(experts, ff_exp, embd))
        w.add_tensor(p + "ffn_up_exps.weight", _w(experts, ff_exp, embd))
        w.add_tensor(p + "ffn_down_exps.weight", _w(experts, embd, ff_exp))
    _finish(w)


def hybrid(path: Path, embd: int = 256, layers: int = 6, heads: int = 4, kv: int = 2,
           ff: int = 512, d_state: int = 64, n_group: int = 1, ssm_heads: int = 8, d_conv: int = 4) -> None:
    """granitehybrid: every third layer attends, the others are Mamba-2 mixers."""
    head_dim, d_inner = embd // heads, 2 * embd
    attends = [i % 3 == 2 for i in range(layers)]
    w, n_vocab = _writer(path, "granitehybrid", embd, layers, heads,
                         [kv if a else 0 for a in attends], ff)
    for name, value in (("conv_kernel", d_conv), ("inner_size", d_inner), ("state_size", d_state),
                        ("time_step_rank", ssm_heads), ("group_count", n_group)):
        w.add_uint32(f"granitehybrid.ssm.{name}", value)
    w.add_tensor("output_norm.weight", _ones(embd))
    w.add_tensor("output.weight", _w(n_vocab, embd))
    conv_dim = d_inner + 2 * n_group * d_state
    for i, attention in enumerate(attends):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", _ones(embd))
        if attention:
            _attention(w, p, embd, heads * head_dim, kv * head_dim, head_dim, norms=False)
        else:
            w.add_tensor(p + "ssm_in.weight", _w(2 * d_inner + 2 * n_group * d_state + ssm_heads, embd))
            # the CPU's ssm_conv reads f32 kernels only (ggml-cpu ops.cpp asserts it)
            w.add_tensor(p + "ssm_conv1d.weight", _w(conv_dim, d_conv, f32=True))
            w.add_tensor(p + "ssm_conv1d.bias", _ones(conv_dim))
            w.add_tensor(p + "ssm_dt.bias", _ones(ssm_heads))
            w.add_tensor(p + "ssm_a", -np.ones((ssm_heads, 1), dtype=np.float32))
            w.add_tensor(p + "ssm_d", np.ones((ssm_heads, 1), dtype=np.float32))
            w.add_tensor(p + "ssm_norm.weight", np.ones((n_group, d_inner // n_group), dtype=np.float32))
            w.add_tensor(p + "ssm_out.weight", _w(embd, d_inner))
        _dense_ffn(w, p, embd, ff)
    _finish(w)


def lfm2(path: Path, embd: int = 256, layers: int = 6, heads: int = 4, kv: int = 2, ff: int = 512,
         l_cache: int = 3) -> None:
    """LFM2: short-convolution layers, with attention at every third layer."""
    head_dim = embd // heads
    attends = [i % 3 == 2 for i in range(layers)]
    w, _ = _writer(path, "lfm2", embd, layers, heads, [kv if a else 0 for a in attends], ff)
    w.add_uint32("lfm2.shortconv.l_cache", l_cache)
    w.add_tensor("token_embd_norm.weight", _ones(embd))
    for i, attention in enumerate(attends):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", _ones(embd))
        if attention:
            _attention(w, p, embd, embd, kv * head_dim, head_dim)
        else:
            w.add_tensor(p + "shortconv.conv.weight", _w(embd, l_cache, f32=True))
            w.add_tensor(p + "shortconv.in_proj.weight", _w(3 * embd, embd))
            w.add_tensor(p + "shortconv.out_proj.weight", _w(embd, embd))
        _dense_ffn(w, p, embd, ff)
    _finish(w)


def mla(path: Path, embd: int = 256, layers: int = 3, heads: int = 4, q_lora: int = 64,
        kv_lora: int = 64, rope: int = 32, nope: int = 32, v_head: int = 32, experts: int = 4,
        used: int = 2, ff_exp: int = 128, ff: int = 512) -> None:
    """deepseek2 with multi-head latent attention: the KV cache holds kv_lora + rope per token
    (key_length), and no V (value_length_mla set); a dense first layer, then MoE + shared expert."""
    w, n_vocab = _writer(path, "deepseek2", embd, layers, heads, 1, ff)
    for key, value in (("attention.key_length", kv_lora + rope), ("attention.value_length", kv_lora),
                       ("attention.key_length_mla", nope + rope), ("attention.value_length_mla", v_head),
                       ("attention.q_lora_rank", q_lora), ("attention.kv_lora_rank", kv_lora),
                       ("rope.dimension_count", rope), ("leading_dense_block_count", 1),
                       ("expert_count", experts), ("expert_used_count", used),
                       ("expert_feed_forward_length", ff_exp), ("expert_shared_count", 1)):
        w.add_uint32(f"deepseek2.{key}", value)
    w.add_tensor("output_norm.weight", _ones(embd))
    w.add_tensor("output.weight", _w(n_vocab, embd))
    for i in range(layers):
        p = f"blk.{i}."
        for name, size in (("attn_norm", embd), ("attn_q_a_norm", q_lora), ("attn_kv_a_norm", kv_lora),
                           ("ffn_norm", embd)):
            w.add_tensor(p + name + ".weight", _ones(size))
        w.add_tensor(p + "attn_q_a.weight", _w(q_lora, embd))
        w.add_tensor(p + "attn_q_b.weight", _w(heads * (nope + rope), q_lora))
        w.add_tensor(p + "attn_kv_a_mqa.weight", _w(kv_lora + rope, embd))
        w.add_tensor(p + "attn_k_b.weight", _w(heads, kv_lora, nope))
        w.add_tensor(p + "attn_v_b.weight", _w(heads, v_head, kv_lora))
        w.add_tensor(p + "attn_output.weight", _w(embd, heads * v_head))
        if i == 0:
            w.add_tensor(p + "ffn_gate.weight", _w(ff, embd))
            w.add_tensor(p + "ffn_up.weight", _w(ff, embd))
            w.add_tensor(p + "ffn_down.weight", _w(embd, ff))
            continue
        w.add_tensor(p + "ffn_gate_inp.weight", _w(experts, embd))
        w.add_tensor(p + "ffn_gate_exps.weight", _w(experts, ff_exp, embd))
        w.add_tensor(p + "ffn_up_exps.weight", _w(experts, ff_exp, embd))
        w.add_tensor(p + "ffn_down_exps.weight", _w(experts, embd, ff_exp))
        w.add_tensor(p + "ffn_gate_shexp.weight", _w(ff_exp, embd))
        w.add_tensor(p + "ffn_up_shexp.weight", _w(ff_exp, embd))
        w.add_tensor(p + "ffn_down_shexp.weight", _w(embd, ff_exp))
    _finish(w)


BUILDERS: dict[str, Callable[[Path], None]] = {"moe": moe, "hybrid": hybrid, "lfm2": lfm2,
                                                "mla": mla}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in BUILDERS:
        sys.exit(__doc__)
    BUILDERS[sys.argv[1]](Path(sys.argv[2]))
