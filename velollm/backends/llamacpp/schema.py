"""velollm.yaml's schema for `backend: llamacpp`: the shipped schema with this backend's server
section (built from the knob catalogue, so the two cannot disagree) and its targets.

Values the schema accepts but llama-server would misread are caught by knobs.value_problem, which
config/check.py runs on every server key and whose message beats the schema's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from velollm.backends.llamacpp.knobdata import DERIVED, KNOBS, LlamaKnob
from velollm.core.backend_schema import config_schema as shared_config_schema

TARGET_KINDS = ("shell", "fish", "systemd", "systemd-unit", "launchd", "preset")
_AUTO = {"const": "auto"}
_INT = {"type": "integer"}
_BOOL_TEXT = {"type": "string", "enum": ["on", "off", "enabled", "disabled", "true", "false",
                                         "1", "0"]}
_CSV = {"anyOf": [{"type": "array", "items": {"type": "number", "minimum": 0}, "minItems": 1},
                  {"type": "string", "pattern": r"^\d+(\.\d+)?(,\d+(\.\d+)?)*$"}]}


def _value(knob: LlamaKnob) -> dict[str, Any]:
    if knob.type in ("int", "uint"):
        low = knob.minimum if knob.minimum is not None else (0 if knob.type == "uint" else None)
        return {**_INT, **({"minimum": low} if low is not None else {}),
                "maximum": 2**31 - 1}
    if knob.type in ("bool", "flag"):
        return {"anyOf": [{"type": "boolean"}, _BOOL_TEXT]}
    if knob.type == "enum":
        bools = [{"type": "boolean"}] if set(knob.choices) >= {"on", "off"} else []
        return {"anyOf": [*bools, {"type": "string", "enum": list(knob.choices)}]}
    if knob.type == "layers":
        return {"anyOf": [{**_INT, "minimum": 0}, {"enum": ["auto", "all"]}]}
    if knob.type == "csv":
        return _CSV
    return {"type": "string", "minLength": 1}


def _knob_schema(knob: LlamaKnob) -> dict[str, Any]:
    value = _value(knob)
    text = f"{knob.env} ({', '.join(knob.flags)}): {knob.meaning}"
    if knob.tunable and knob.type != "layers" and "auto" not in knob.choices:
        return {"description": text + "; auto = let the optimizer choose",
                "anyOf": [_AUTO, value]}
    return {"description": text, **value}


def server_schema() -> dict[str, Any]:
    props: dict[str, Any] = {k.key: _knob_schema(k) for k in KNOBS.values()
                             if k.key not in DERIVED and k.env is not None}
    kv = props["kv_cache_type_k"]["anyOf"][1]
    props.update({
        "context_length": {
            "description": "context per slot in tokens; velollm writes LLAMA_ARG_CTX_SIZE = "
                           "context_length x parallel; auto = let the optimizer choose",
            "anyOf": [_AUTO, {**_INT, "minimum": 0, "maximum": 2**31 - 1}]},
        "kv_cache_type": {
            "description": "K and V cache type together (LLAMA_ARG_CACHE_TYPE_K and _V); a "
                           "quantized V cache needs flash attention; auto = let the optimizer "
                           "choose", "anyOf": [_AUTO, kv]},
        "binary": {"description": "llama-server to run and ask for its build: auto (PATH) or a "
                                  "path", "type": "string", "minLength": 1},
        "host": {"description": "address:port llama-server listens on (LLAMA_ARG_HOST and "
                                "LLAMA_ARG_PORT), default 127.0.0.1:8080",
                 "type": "string", "pattern": r"^\S+$", "minLength": 1},
        "models": {
            "description": "GGUF files to serve: one is LLAMA_ARG_MODEL; more than one runs "
                           "llama-server in router mode with a --models-preset INI",
            "type": "array", "minItems": 1,
            "items": {"type": "object", "required": ["path"], "additionalProperties": False,
                      "properties": {
                          "path": {"description": "the .gguf file", "type": "string",
                                   "minLength": 1},
                          "alias": {"description": "the name the API answers to",
                                    "type": "string", "pattern": r"^[^\s,]+$"}}}},
    })
    return {"description": "llama-server settings (backend: llamacpp): knob names in lower "
                           "case; velollm writes their LLAMA_ARG_* variables",
            "type": "object", "additionalProperties": False,
            "properties": dict(sorted(props.items()))}


def config_schema(shipped: Mapping[str, Any]) -> dict[str, Any]:
    return shared_config_schema(shipped, server_schema(), server_name="llama-server",
                                     target_kinds=TARGET_KINDS,
                                     models_instead="list GGUF files under server.models")
