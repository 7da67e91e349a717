"""The velollm.yaml schema of a backend that is not Ollama: the shipped schema (Ollama's
sections) with the backend's own `server:`, its target kinds, and no per-model parameters
(those are Ollama's Modelfiles)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def config_schema(shipped: Mapping[str, Any], server: dict[str, Any], *, server_name: str,
                  target_kinds: Iterable[str], models_instead: str) -> dict[str, Any]:
    """`server_name`: "llama-server"; `models_instead`: where that backend names its models."""
    defs = dict(shipped["$defs"])
    defs["server"] = server
    target = dict(defs["target"])
    target["properties"] = {**target["properties"],
                            "kind": {"description": f"where {server_name}'s settings are "
                                                    "written",
                                     "enum": ["auto", *target_kinds]}}
    defs["target"] = target
    defs["models"] = {"description": f"not used by {server_name}: {models_instead}",
                      "type": "array", "maxItems": 0}
    return {**shipped, "$defs": defs}
