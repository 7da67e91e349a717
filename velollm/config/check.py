"""Every problem in a parsed velollm.yaml or profile, each with key path, line and a message that
says what to do. Schema errors are reworded with the knowledge of the file's backend (its knob
catalogue, velollm/backends/<name>/); the backend is the one `backend:` names, else the default.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from velollm.backends import BACKENDS, DEFAULT, Backend
from velollm.config.yamlload import Loaded
from velollm.config.yamltext import Problem, problem
from velollm.io.render import CONTROL_PROBLEM, control_character, writing_problem
from velollm.resources import data_dir, load_schema

if TYPE_CHECKING:
    from jsonschema import ValidationError  # a type only: io/schemas.py imports it

SCHEMA_FILE = "velollm.schema.json"
Kind = Literal["config", "profile"]
_COMPARISON = re.compile(r"\.when\.(gpu_count|vram_gb|vram_total_gb|ram_gb)$")
_SERVER_VALUE = re.compile(r"\.server\.([A-Za-z0-9_]+)$")


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in data_dir("profiles").glob("*.yaml"))


def is_profile_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.endswith((".yaml", ".yml"))


def schema_for(kind: Kind, backend: Backend | None = None) -> dict[str, Any]:
    """The schema of a velollm.yaml (or profile) for `backend`: the shipped file, its `backend:`
    choices from the table of backends, and the backend's own server and model sections."""
    shipped = load_schema(SCHEMA_FILE)
    schema = (backend or BACKENDS[DEFAULT]).config_schema(shipped)
    properties = {**schema["properties"],
                  "backend": {**schema["properties"]["backend"], "enum": sorted(BACKENDS)}}
    schema = {**schema, "properties": properties}
    if kind == "config":
        return schema
    # Profiles are checked by a sub-schema of the same file, so the two can never disagree.
    return {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/profile"}


def backend_of(data: dict[str, Any]) -> Backend:
    """The backend a file is for; an unknown name is reported by the schema, checked as default."""
    name = data.get("backend")
    return BACKENDS[name] if isinstance(name, str) and name in BACKENDS else BACKENDS[DEFAULT]


def check(loaded: Loaded, kind: Kind, base_dir: Path) -> list[Problem]:
    data = loaded.data
    if not isinstance(data, dict):
        found = type(data).__name__ if data is not None else "null"
        return [problem("$", 1, f"the top level must be a mapping of keys (version: 1, "
                                f"server: ...), not a {found}")]
    from velollm.io.schemas import schema_errors

    backend = backend_of(data)
    knobs = _knob_problems(data, loaded, backend)
    said = {p["path"] for p in knobs}  # the catalogue's message beats the schema's
    problems = knobs + [p for err in schema_errors(schema_for(kind, backend), data)
                        for p in _translate(err, loaded, backend) if p["path"] not in said]
    problems += _control_characters(data, "$", loaded)
    if kind == "config":
        problems += _profile_problems(data.get("profile"), loaded, base_dir)
    unique = {(p["path"], p["message"]): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p["line"] or 0, p["path"]))


def _translate(err: ValidationError, loaded: Loaded, backend: Backend) -> list[Problem]:
    path = err.json_path
    instance: Any = err.instance
    if err.validator == "additionalProperties" and isinstance(err.schema, dict):
        known = list(err.schema.get("properties", {}))
        return [problem(f"{path}.{k}", loaded.line(f"{path}.{k}"), unknown_key(k, known, path, backend))
                for k in instance if k not in known]
    if err.validator == "required":
        required: Any = err.validator_value
        missing = [k for k in required if k not in instance]
        return [problem(f"{path}.{k}", loaded.line(path), f"the key {k!r} is required")
                for k in missing]
    return [problem(path, loaded.line(path), _message(err, path, backend))]


def _message(err: ValidationError, path: str, backend: Backend) -> str:
    from velollm.io.schemas import best_match

    value = err.instance
    if value is None:
        return "a value is needed here (got null or nothing)"
    knob = _SERVER_VALUE.search(path)
    if knob and (msg := backend.value_problem(knob.group(1), value)):
        return msg
    if path == "$.version":
        return f"unsupported version {value!r}: this velollm reads version 1 files (version: 1)"
    if path == "$.backend":
        return f"unknown backend {value!r}: velollm supports {', '.join(sorted(BACKENDS))}"
    if _COMPARISON.search(path):
        return f"{value!r} is not a comparison: write e.g. \">=24\", \"<8\" or a number (at least)"
    if err.validator in ("anyOf", "oneOf") and err.context:
        # "auto" is one branch of every tunable knob; the other branch says what was meant.
        real = [e for e in err.context if e.validator != "const"] or list(err.context)
        auto = len(real) < len(err.context)
        # A branch of the right type explains better than "is not of type" from the others.
        real = [e for e in real if e.validator != "type"] or real
        return str(best_match(real).message) + (" (or auto)" if auto else "")
    return err.message


def unknown_key(key: str, known: list[str], path: str, backend: Backend) -> str:
    """The message for a key the schema does not know, with the best advice we have."""
    if path.endswith(".server"):
        if advice := backend.unknown_server_key(key):
            return advice
        if key in backend.model_keys():
            return f"{key} is a per-model parameter: put it under models[]"
    elif re.search(r"\.models\[\d+\]$", path) and key in backend.server_keys():
        hint = " (per model, use num_ctx)" if key == "context_length" else ""
        return f"{key} is a server variable: put it under server{hint}"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    if path.endswith(".server"):
        return (f"unknown key {key!r}: not one of the {backend.title} server variables velollm knows "
                "(see `velollm profiles show balanced` for examples)")
    return f"unknown key {key!r}; allowed here: {', '.join(sorted(known))}"


def _knob_problems(data: dict[str, Any], loaded: Loaded, backend: Backend) -> list[Problem]:
    """Values the schema accepts but Ollama would misread (auto where it means nothing, a bad
    port, ...), checked with the catalogue's own parsing rules."""
    sections = [("$.server", data.get("server"))]
    overrides = data.get("overrides")
    if isinstance(overrides, list):
        sections += [(f"$.overrides[{i}].server", o.get("server"))
                     for i, o in enumerate(overrides) if isinstance(o, dict)]
    found = []
    for where, server in sections:
        if not isinstance(server, dict):
            continue
        for key, value in server.items():
            if key in backend.server_keys() and (msg := backend.value_problem(key, value)):
                path = f"{where}.{key}"
                found.append(problem(path, loaded.line(path), msg))
    return found


def _is_path(where: str) -> bool:
    """A file name: a tab in it is a typo, and no restart command could quote it for fish."""
    return where.endswith((".target.path", "$.profile"))


def _control_characters(value: Any, path: str, loaded: Loaded) -> list[Problem]:
    # Iterative: a broken file must never reach Python's recursion limit.
    stack, found = [(value, path)], []
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if control_character(k, tab_ok=True):
                    found.append(problem(where, loaded.line(where), f"the key {k!r} contains "
                                                                    "a control character"))
                stack.append((v, f"{where}.{k}"))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, str) and (bad := writing_problem(item, tab_ok=not _is_path(where))):
            text = (CONTROL_PROBLEM if control_character(item, tab_ok=not _is_path(where))
                    else f"the value {bad}")
            found.append(problem(where, loaded.line(where), text))
    return found


def _profile_problems(name: object, loaded: Loaded, base_dir: Path) -> list[Problem]:
    if not isinstance(name, str) or not name or control_character(name, tab_ok=True):
        return []  # the schema already said so
    if is_profile_path(name):
        if (base_dir / Path(name).expanduser()).is_file():
            return []
        message = f"profile file {name!r} not found (relative to {base_dir})"
    else:
        names = builtin_profiles()
        if name in names:
            return []
        close = difflib.get_close_matches(name, names, n=1)
        message = (f"unknown profile {name!r}"
                   + (f"; did you mean {close[0]!r}?" if close else "")
                   + f" (built-in: {', '.join(names)}; or a path to a profile file)")
    return [problem("$.profile", loaded.line("$.profile"), message)]
