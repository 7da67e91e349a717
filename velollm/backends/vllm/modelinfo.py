"""Model metadata for vLLM's memory model, from a Hugging Face model directory: config.json for
the shape (layers, heads, head size, context) and the weight files' sizes for the weights.

A model given as a Hub id (not a directory here) is not fetched: plan says its sizes are unknown.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from velollm.core.models import ModelInfo
from velollm.core.vllm_memory import VllmModel

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
CONFIG_LIMIT = 4 << 20  # a config.json is a few KiB; refuse to parse something huge


def _int(config: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def from_config(name: str, config: Mapping[str, Any], weight_bytes: int) -> ModelInfo:
    """ModelInfo from a config.json (text models: a nested text_config wins)."""
    text = config.get("text_config")
    c: Mapping[str, Any] = text if isinstance(text, Mapping) else config
    layers = _int(c, "num_hidden_layers", "n_layer") or 0
    hidden = _int(c, "hidden_size", "n_embd") or 0
    heads = _int(c, "num_attention_heads", "n_head") or 0
    kv = _int(c, "num_key_value_heads") or heads
    head_dim = _int(c, "head_dim") or (hidden // heads if heads else 0)
    archs = config.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs else str(config.get("model_type", ""))
    return ModelInfo(name=name, architecture=str(arch), block_count=layers,
                     embedding_length=hidden, head_count=heads, head_count_kv=(kv,) * layers,
                     key_length=head_dim, value_length=head_dim,
                     context_length=_int(c, "max_position_embeddings", "n_positions") or 0,
                     size_bytes=weight_bytes, vocab_size=_int(c, "vocab_size"),
                     sliding_window=_int(c, "sliding_window"),
                     feed_forward_length=_int(c, "intermediate_size"),
                     quantization=str(config.get("torch_dtype") or c.get("dtype") or "") or None)


def vllm_model(info: ModelInfo) -> VllmModel:
    """What vllm_memory needs, from a ModelInfo (any backend's)."""
    ffn = info.feed_forward_length or 4 * info.embedding_length
    return VllmModel(layers=info.block_count, kv_heads=info.max_head_count_kv,
                     head_dim=info.key_length, hidden=info.embedding_length, intermediate=ffn,
                     vocab=info.vocab_size or 32000, weight_bytes=info.size_bytes,
                     max_position=info.context_length)


def read_model_dir(path: Path, name: str | None = None) -> ModelInfo:
    """OSError / ValueError when it is not a readable model directory."""
    config_path = path / "config.json"
    if config_path.stat().st_size > CONFIG_LIMIT:
        raise ValueError(f"{config_path} is larger than a config.json can be")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{config_path} is not a JSON object")  # noqa: TRY004
    weights = sum(f.stat().st_size for f in path.iterdir()
                  if f.is_file() and f.name.endswith(WEIGHT_SUFFIXES))
    return from_config(name or path.name, config, weights)


def gather(model: str | None) -> tuple[list[ModelInfo], list[str]]:
    """([ModelInfo], notes) for server.model."""
    if not model:
        return [], ["no server.model in velollm.yaml: vLLM needs one to start"]
    path = Path(os.path.expanduser(model))
    if not path.is_dir():
        return [], [(f"{model} is not a directory here (a Hub id?): its size is not known, so "
                    "the memory plan is not checked")]
    try:
        return [read_model_dir(path, model)], []
    except (OSError, ValueError) as exc:
        return [], [f"{model}: cannot read its config.json ({exc})"]
