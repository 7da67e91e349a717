"""velollm.yaml's schema for `backend: vllm`: the shipped schema with this backend's server
section (built from the knob catalogue, so the two cannot disagree) and its targets.

Values the schema accepts but vLLM would misread are caught by knobs.value_problem, which
config/check.py runs on every server key and whose message beats the schema's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from velollm.backends.vllm.knobdata import KNOBS, VllmKnob
from velollm.core.backend_schema import config_schema as shared_config_schema

TARGET_KINDS = ("systemd-unit", "systemd", "env", "compose")
_AUTO = {"const": "auto"}
_BOOL_TEXT = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]}
# 1k = 1000, 1K = 1024 (vLLM's human_readable_int); -1 / auto for max_model_len
_HINT_TEXT = {"type": "string", "pattern": r"^(\d+(\.\d+)?[kKmMgGtT]|-?\d+)$"}


def _value(knob: VllmKnob) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    if knob.minimum is not None:
        bounds["exclusiveMinimum" if knob.above_minimum else "minimum"] = knob.minimum
    if knob.maximum is not None:
        bounds["maximum"] = knob.maximum
    if knob.type == "int":
        return {"type": "integer", **bounds}
    if knob.type == "float":
        return {"type": "number", **bounds}
    if knob.type == "hint":
        return {"anyOf": [{"type": "integer", **bounds}, _HINT_TEXT]}
    if knob.type == "bool":
        return {"anyOf": [{"type": "boolean"}, _BOOL_TEXT]}
    if knob.type == "enum":
        return {"type": "string", "enum": list(knob.choices)}
    if knob.type == "json":
        return {"anyOf": [{"type": "object"}, {"type": "string", "minLength": 2}]}
    if knob.type == "list":
        word = {"type": "string", "pattern": r"^\S+$"}
        return {"anyOf": [word, {"type": "array", "items": word, "minItems": 1}]}
    return {"type": "string", "minLength": 1}


def _knob_schema(knob: VllmKnob) -> dict[str, Any]:
    spelled = ", ".join(x for x in (knob.env, *knob.flags) if x)
    text = f"{spelled}: {knob.meaning}"
    if knob.tunable:
        return {"description": text + "; auto = let the optimizer choose",
                "anyOf": [_AUTO, _value(knob)]}
    return {"description": text, **_value(knob)}


def server_schema() -> dict[str, Any]:
    props: dict[str, Any] = {k.key: _knob_schema(k) for k in KNOBS.values()}
    props.update({
        "model": {"description": "what vLLM serves: a Hugging Face model directory or id "
                                 "(vllm serve MODEL)", "type": "string", "minLength": 1},
        "binary": {"description": "the vllm executable (a venv's bin/vllm) or its Python "
                                  "(bin/python: velollm runs -m vllm.entrypoints.openai."
                                  "api_server); default: vllm on PATH",
                   "type": "string", "minLength": 1},
        "image": {"description": "the container image of the compose target, default "
                                 "vllm/vllm-openai:v0.32.0", "type": "string", "minLength": 1},
    })
    return {"description": "vLLM settings (backend: vllm): argument names in snake case "
                           "(max_model_len is --max-model-len) and VLLM_* variables without "
                           "their prefix (cpu_kvcache_space is VLLM_CPU_KVCACHE_SPACE)",
            "type": "object", "additionalProperties": False,
            "properties": dict(sorted(props.items()))}


def config_schema(shipped: Mapping[str, Any]) -> dict[str, Any]:
    return shared_config_schema(shipped, server_schema(), server_name="vLLM",
                                     target_kinds=TARGET_KINDS,
                                     models_instead="name the model in server.model")
