"""schemas/velollm.schema.json and the knob catalogue agree, in both directions, and every
built-in profile is valid under the same schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from velollm.backends.ollama.knobs import MODEL_KNOBS, NOT_KNOBS, SERVER_KNOBS
from velollm.config import load_profile
from velollm.config.check import builtin_profiles, schema_for
from velollm.resources import data_dir, load_schema

SCHEMA = load_schema("velollm.schema.json")
SERVER_PROPS: dict[str, Any] = SCHEMA["$defs"]["server"]["properties"]
MODEL_PROPS: dict[str, Any] = SCHEMA["$defs"]["model"]["properties"]
JSON_TYPES = {"bool": {"boolean"}, "uint": {"integer"}, "bytes": {"integer", "string"},
              "duration": {"integer", "string"}, "string": {"string"}, "enum": {"string"},
              "host": {"string"}, "list": {"string", "array"}, "path": {"string"},
              "level": {"boolean", "integer"}}
MODEL_TYPES = {"int": {"integer"}, "float": {"number"}, "bool": {"boolean"},
               "stop": {"string", "array"}}


def json_types(prop: dict[str, Any]) -> tuple[set[str], bool]:
    """(JSON types a property accepts besides "auto", whether it accepts "auto")."""
    branches = prop.get("anyOf", [prop])
    types: set[str] = set()
    auto = False
    for branch in branches:
        if branch.get("const") == "auto":
            auto = True
        elif "anyOf" in branch:
            types |= json_types(branch)[0]
        else:
            kind = branch["type"]
            types |= set(kind) if isinstance(kind, list) else {kind}
    return types, auto


def test_schema_is_valid_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"].endswith("/2020-12/schema")


def test_every_server_knob_has_a_matching_schema_property() -> None:
    for key, knob in SERVER_KNOBS.items():
        assert key in SERVER_PROPS, f"{key} missing from the schema"
        types, auto = json_types(SERVER_PROPS[key])
        assert types == JSON_TYPES[knob.type], key
        assert auto is knob.tunable, key
        assert knob.env in SERVER_PROPS[key]["description"]
        if knob.type == "enum":
            enum = next(b for b in SERVER_PROPS[key].get("anyOf", [SERVER_PROPS[key]])
                        if "enum" in b)["enum"]
            assert tuple(enum) == knob.choices
        if knob.type == "uint":
            base = next(b for b in SERVER_PROPS[key].get("anyOf", [SERVER_PROPS[key]])
                        if b.get("type") == "integer")
            assert (base["minimum"], base["maximum"]) == (0, knob.maximum)


def test_every_schema_server_property_is_a_knob() -> None:
    assert set(SERVER_PROPS) == set(SERVER_KNOBS)
    assert not set(SERVER_PROPS) & {k for k in NOT_KNOBS if k.islower()}


def test_model_knobs_and_schema_agree() -> None:
    assert set(MODEL_PROPS) - {"name"} == set(MODEL_KNOBS)
    for key, knob in MODEL_KNOBS.items():
        types, auto = json_types(MODEL_PROPS[key])
        assert types == MODEL_TYPES[knob.type], key
        assert auto is knob.tunable, key


def test_server_and_model_names_do_not_overlap() -> None:
    assert not set(SERVER_KNOBS) & set(MODEL_KNOBS)


@pytest.mark.parametrize("name", ["balanced", "throughput", "latency", "long-context",
                                  "low-memory", "cpu-only"])
def test_builtin_profile_is_valid(name: str) -> None:
    assert name in builtin_profiles()
    profile = load_profile(name, Path.cwd())
    assert profile.objective == name
    assert profile.description
    text = (data_dir("profiles") / f"{name}.yaml").read_text(encoding="utf-8")
    assert text.startswith(f"# {name}:") and "Optimizes for:" in text


def test_profile_sub_schema_shares_the_definitions() -> None:
    sub = schema_for("profile")
    assert sub["$defs"] is SCHEMA["$defs"]
    Draft202012Validator.check_schema(sub)
