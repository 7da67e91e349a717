"""`velollm validate [FILE]`: every problem in a velollm.yaml at once, as FILE:LINE: $.path: msg."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from velollm.output import OUT


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "validate", parents=[common], help="check a velollm.yaml and report every problem",
        description="Check velollm.yaml (and the profile it names) against the schema and the "
                    "knob catalogue. Prints every problem as FILE:LINE: $.path: message; exit 0 "
                    "when valid, 1 when not.")
    what = p.add_mutually_exclusive_group()
    what.add_argument("file", nargs="?", metavar="FILE",
                      help="the file to check (default: $VELOLLM_CONFIG, else ./velollm.yaml)")
    what.add_argument("--schema", action="store_true",
                      help="print the JSON Schema of velollm.yaml (for editors and "
                           "check-jsonschema) instead of checking a file")


def config_path(given: str | None) -> Path:
    """The velollm.yaml a command reads: FILE, else $VELOLLM_CONFIG, else ./velollm.yaml."""
    return Path(given or os.environ.get("VELOLLM_CONFIG") or "velollm.yaml")


def run(args: argparse.Namespace) -> int:
    if args.schema:
        return _print_schema()
    path = config_path(args.file)
    errors, warnings, summary = check_file(path)
    if OUT.json_mode:
        OUT.json({"valid": not errors, "file": str(path), "errors": errors,
                  "warnings": warnings})
    for e in errors:
        where = f"{e['file']}:{e['line']}" if e.get("line") else e["file"]
        OUT.line(f"{where}: {e['path']}: {e['message']}")
    for w in warnings:
        OUT.warn(w)
    if errors:
        OUT.error(f"{path} is not valid: {len(errors)} problem(s)",
                  hint="fix them and run `velollm validate` again")
        return 1
    OUT.line(f"{path}: {OUT.style('valid', 'green')} ({summary})")
    return 0


def _print_schema() -> int:
    """The schema validate checks against, the same on every machine (no local path in it)."""
    import json

    from velollm.config.check import schema_for

    OUT.raw(json.dumps(schema_for("config"), indent=2, ensure_ascii=False) + "\n")
    return 0


def check_file(path: Path) -> tuple[list[dict[str, Any]], list[str], str]:
    """(errors, warnings, summary) for one velollm.yaml; each error names its file."""
    from velollm.backends import get_backend
    from velollm.config import load_config, load_profile, profile_path
    from velollm.errors import ConfigError

    try:
        config = load_config(path)
    except ConfigError as exc:
        return _errors(str(path), exc), [], ""
    try:
        profile = load_profile(config.profile, path.parent)
    except ConfigError as exc:
        return _errors(str(profile_path(config.profile, path.parent)), exc), [], ""
    server = {**profile.server, **config.server}
    backend = get_backend(config.backend)
    warnings = [f"{path}: {w} (for the newest {backend.title}; `velollm plan` checks the "
                "installed one)" for w in backend.trap_warnings(server, None)]
    # llama.cpp lists its models under server.models: models, not a server setting
    server_models = config.server.get("models")
    listed = server_models if isinstance(server_models, list) else []
    settings = len(config.server) - (1 if listed else 0)
    summary = (f"profile {profile.name}: {_count(settings, 'setting')}, "
               f"{_count(len(config.models) + len(listed), 'model')}, "
               f"{_count(len(config.overrides), 'override')}")
    return [], warnings, summary


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _errors(file: str, exc: Exception) -> list[dict[str, Any]]:
    from velollm.errors import SchemaValidationError

    if isinstance(exc, SchemaValidationError):
        return [{"file": file, **p} for p in exc.problems]
    return [{"file": file, "path": "$", "line": None, "message": str(exc)}]
