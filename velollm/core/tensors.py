"""A GGUF tensor list summed the way llama.cpp places tensors: per layer, experts, input, output.

Pure: the caller reads (name, bytes) pairs from the file (gguf-py's GGUFReader, or a backend's
own reader). Layer tensors are `blk.<i>.*`; MoE expert tensors match the pattern `--fit` moves to
host memory first (`ffn_(up|down|gate|gate_up)_(ch|)exps`, common/fit.cpp); `output*` belongs to the
output layer; everything else (token embeddings and their norms) to the input, which stays on the host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from velollm.core.models import ModelInfo

_LAYER = re.compile(r"blk\.(\d+)\.(.+)")
_EXPERT = re.compile(r"ffn_(up|down|gate|gate_up)_(ch|)exps\b")


def with_tensors(model: ModelInfo, tensors: Iterable[tuple[str, int]]) -> ModelInfo:
    return replace(model, **summarize(tensors, model.block_count))


def summarize(tensors: Iterable[tuple[str, int]], layers: int) -> dict[str, Any]:
    """The ModelInfo fields of a tensor list: layer_bytes, expert_bytes, input_bytes,
    output_bytes and tied_output (no `output.weight`: the head is token_embd, copied); no
    expert tensors: expert_bytes None."""
    per_layer, experts = [0] * layers, [0] * layers
    inp = out = 0
    has_output_head = False
    for name, size in tensors:
        match = _LAYER.fullmatch(name)
        if match and int(match.group(1)) < layers:
            layer = int(match.group(1))
            per_layer[layer] += size
            if _EXPERT.match(match.group(2)):
                experts[layer] += size
        elif name.startswith("output"):
            out += size
            has_output_head = has_output_head or name == "output.weight"
        else:
            inp += size
    return {"layer_bytes": tuple(per_layer), "expert_bytes": tuple(experts) if any(experts) else None,
            "input_bytes": inp, "output_bytes": out, "tied_output": not has_output_head}
