"""ModelInfo: the architecture facts the memory model needs, from a live server or the shipped table.

`from_show` parses Ollama's `/api/show` answer (`model_info` = GGUF metadata, `details`) plus the
`/api/tags` entry (file size). Keys follow `<general.architecture>.<key>` (ollama-facts.md §4);
`attention.head_count(_kv)` may be one number or a per-layer array.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from velollm.core.model_table import ALIASES, MODELS

Source = Literal["server", "offline"]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    architecture: str
    block_count: int
    embedding_length: int
    head_count: int  # the largest per-layer value
    head_count_kv: tuple[int, ...]  # one entry per layer
    key_length: int
    value_length: int
    context_length: int  # trained context: Ollama caps num_ctx here
    size_bytes: int  # GGUF file size (/api/tags `size`)
    parameter_count: int | None = None
    quantization: str | None = None
    parameter_size: str | None = None
    vocab_size: int | None = None
    sliding_window: int | None = None
    source: Source = "server"
    # Optional facts for the llama.cpp memory model (core/llama_memory.py); None = not known.
    feed_forward_length: int | None = None  # the largest per-layer value
    swa_layers: tuple[bool, ...] | None = None  # per layer: sliding-window attention
    recurrent_layers: tuple[bool, ...] | None = None  # per layer: recurrent state, no KV
    expert_count: int | None = None
    expert_used_count: int | None = None
    expert_feed_forward_length: int | None = None
    expert_shared_count: int | None = None
    ssm_conv_kernel: int | None = None
    ssm_inner_size: int | None = None
    ssm_state_size: int | None = None
    ssm_group_count: int | None = None
    shortconv_l_cache: int | None = None  # LFM2's convolution state
    layer_bytes: tuple[int, ...] | None = None  # tensor bytes per repeating layer (GGUF)
    expert_bytes: tuple[int, ...] | None = None  # of which in MoE expert tensors
    input_bytes: int | None = None  # token embeddings: always in host memory
    output_bytes: int | None = None  # output norm + output head
    tied_output: bool = False  # no output head: llama.cpp copies token_embd to the output's device
    kv_layer_count: int | None = None  # only the first N layers own a KV cache (Gemma 3n/4 share)
    key_length_swa: int | None = None  # head sizes of the sliding-window layers (Gemma 4)
    value_length_swa: int | None = None
    mla: bool = False  # DeepSeek's multi-head latent attention: the V cache is a view of K

    @property
    def offline(self) -> bool:
        return self.source == "offline"

    @property
    def max_head_count_kv(self) -> int:
        return max(self.head_count_kv, default=0)


def _per_layer(value: Any, layers: int) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        values = [int(v) for v in value]
        return tuple(values[:layers]) + (values[-1] if values else 0,) * (layers - len(values))
    return (int(value or 0),) * layers


def _max_int(value: Any) -> int:
    if isinstance(value, (list, tuple)):
        return max((int(v) for v in value), default=0)
    return int(value or 0)


def _parse_count(text: str | None) -> int | None:
    """'8.0B' -> 8_000_000_000, '137M' -> 137_000_000 (details.parameter_size)."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMBT]?)\s*", text or "")
    if not match:
        return None
    scale = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[match.group(2)]
    return int(float(match.group(1)) * scale)


def _vocab(info: Mapping[str, Any], arch: str) -> int | None:
    if info.get(f"{arch}.vocab_size"):
        return int(info[f"{arch}.vocab_size"])
    tokens = info.get("tokenizer.ggml.tokens")  # filled only with /api/show verbose=true
    return len(tokens) if isinstance(tokens, list) and tokens else None


def from_metadata(name: str, info: Mapping[str, Any], size_bytes: int, *,
                  details: Mapping[str, Any] | None = None,
                  source: Source = "server") -> ModelInfo:
    arch = str(info.get("general.architecture") or "llama")

    def key(k: str) -> Any:
        return info.get(f"{arch}.{k}")

    layers = int(key("block_count") or 0)
    embd = int(key("embedding_length") or 0)
    heads = _max_int(key("attention.head_count"))
    kv_heads = key("attention.head_count_kv")
    head_dim = embd // heads if heads else 0
    details = details or {}
    params = info.get("general.parameter_count")
    return ModelInfo(
        name=name, architecture=arch, block_count=layers, embedding_length=embd,
        head_count=heads,
        # A missing head_count_kv means no grouped-query attention: as many KV heads as heads.
        head_count_kv=_per_layer(heads if kv_heads is None else kv_heads, layers),
        key_length=int(key("attention.key_length") or head_dim),
        value_length=int(key("attention.value_length") or head_dim),
        context_length=int(key("context_length") or 2048),
        size_bytes=int(size_bytes),
        parameter_count=int(params) if params else _parse_count(details.get("parameter_size")),
        quantization=details.get("quantization_level") or None,
        parameter_size=details.get("parameter_size") or None,
        vocab_size=_vocab(info, arch),
        sliding_window=int(key("attention.sliding_window") or 0) or None,
        source=source,
        **_llama_facts(info, arch, layers, heads if kv_heads is None else kv_heads),
    )


# How llama.cpp tells recurrent layers (llm_arch_is_recurrent, models/<arch>.cpp load_arch_hparams).
_ALL_RECURRENT = {"mamba", "mamba2", "falcon-h1"}
_RECURRENT_WITHOUT_KV = {"jamba", "granitehybrid", "lfm2", "lfm2moe", "plamo2", "nemotron_h",
                         "nemotron_h_moe", "bailingmoe3", "kimi-linear", "glm5-next"}
_RECURRENT_BY_INTERVAL = {"qwen3next", "qwen35", "qwen35moe", "minimax-01"}


def _llama_facts(info: Mapping[str, Any], arch: str, layers: int, kv_heads: Any) -> dict[str, Any]:
    """The optional fields the llama.cpp memory model reads, from GGUF metadata."""

    def key(k: str) -> Any:
        return info.get(f"{arch}.{k}")

    def opt(k: str) -> int | None:
        value = key(k)
        return _max_int(value) or None if value is not None else None

    kv = _per_layer(kv_heads, layers)
    recurrent: tuple[bool, ...] | None = None
    listed = key("attention.recurrent_layers")
    if isinstance(listed, (list, tuple)):
        recurrent = tuple(bool(v) for v in listed[:layers])
    elif arch in _ALL_RECURRENT:
        recurrent = (True,) * layers
    elif arch in _RECURRENT_WITHOUT_KV:
        recurrent = tuple(h == 0 for h in kv)
    elif arch in _RECURRENT_BY_INTERVAL:
        every = int(key("full_attention_interval") or 4)
        recurrent = tuple((i + 1) % every != 0 for i in range(layers))
    pattern = key("attention.sliding_window_pattern")
    swa: tuple[bool, ...] | None = None
    if isinstance(pattern, (list, tuple)):
        swa = tuple(bool(v) for v in pattern[:layers])
    elif arch in ("lfm2", "lfm2moe") and key("attention.sliding_window") and recurrent:
        swa = tuple(not r for r in recurrent)
    elif isinstance(pattern, int) and pattern > 0:
        swa = tuple(i % pattern < pattern - 1 for i in range(layers))
    shared = opt("attention.shared_kv_layers")
    kv_layers = 20 if arch == "gemma3n" else (layers - shared if shared else None)
    return {"kv_layer_count": kv_layers, "key_length_swa": opt("attention.key_length_swa"),
            "value_length_swa": opt("attention.value_length_swa"),
            "mla": bool(key("attention.key_length_mla") and key("attention.value_length_mla")),
            "feed_forward_length": opt("feed_forward_length"), "swa_layers": swa,
            "recurrent_layers": recurrent, "expert_count": opt("expert_count"),
            "expert_used_count": opt("expert_used_count"),
            "expert_feed_forward_length": opt("expert_feed_forward_length"),
            "expert_shared_count": opt("expert_shared_count"),
            "ssm_conv_kernel": opt("ssm.conv_kernel"), "ssm_inner_size": opt("ssm.inner_size"),
            "ssm_state_size": opt("ssm.state_size"), "ssm_group_count": opt("ssm.group_count"),
            "shortconv_l_cache": opt("shortconv.l_cache")}


def from_show(show_json: Mapping[str, Any], tags_entry: Mapping[str, Any]) -> ModelInfo:
    """Build from `/api/show` and the model's entry of `/api/tags` (which carries `size`)."""
    name = str(tags_entry.get("name") or tags_entry.get("model") or "")
    return from_metadata(name, show_json.get("model_info") or {}, int(tags_entry.get("size") or 0),
                         details=show_json.get("details") or tags_entry.get("details"))


def canonical_name(name: str) -> str:
    name = name.strip()
    return ALIASES.get(name, ALIASES.get(name.removesuffix(":latest"), name))


def offline(name: str) -> ModelInfo | None:
    """The shipped table's entry for `name` (aliases such as `llama3.1:latest` included)."""
    entry = MODELS.get(canonical_name(name))
    if entry is None:
        return None
    arch = entry["architecture"]
    info = {"general.architecture": arch, "general.parameter_count": entry["parameter_count"],
            **{f"{arch}.{k}": entry[k] for k in ("block_count", "embedding_length",
                                                  "context_length", "vocab_size")},
            f"{arch}.attention.head_count": entry["head_count"],
            f"{arch}.attention.head_count_kv": entry["head_count_kv"],
            f"{arch}.attention.key_length": entry.get("key_length"),
            f"{arch}.attention.value_length": entry.get("value_length"),
            f"{arch}.attention.sliding_window": entry.get("sliding_window")}
    return from_metadata(name, info, entry["size"],
                         details={"quantization_level": entry["quantization"]}, source="offline")


def known_models() -> list[str]:
    return sorted(MODELS)
