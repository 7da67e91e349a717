"""The shape of state.json, checked before anything trusts it (issue 15: files that lie).

A record names files velollm deletes or overwrites (destroy, a retired file) and a backup it
copies back and deletes, so a record must say exactly what velollm itself writes: an absolute,
normalised path, a sha256, and a backup inside <state dir>/backups/. Anything else is a damaged
state file (Damaged, with the reason); load_state turns it into one clear error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_FILES = 10_000
MAX_DEPTH = 8  # state.json's deepest value: settings.models.<model>.<param>[i]
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
# a variable (OLLAMA_NUM_PARALLEL), or a command-line option for settings a server reads only
# from its arguments (vLLM: --max-model-len)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z|--[a-z0-9][a-z0-9-]{0,80}\Z")
_TARGET = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z|\Z")


class Damaged(ValueError):
    """state.json does not have velollm's shape; the message says where."""


def check_document(doc: object, directory: Path) -> dict[str, Any]:
    """`doc` (json.loads of state.json) when it has velollm's shape; else Damaged."""
    if not isinstance(doc, dict):
        raise Damaged(f"it holds {_kind(doc)}, not an object")
    if _depth(doc) > MAX_DEPTH:
        raise Damaged("it is nested too deeply")
    for key in ("plan_id", "fingerprint", "applied_at"):
        if not isinstance(doc.get(key, ""), str):
            raise Damaged(f"{key} is {_kind(doc[key])}, not text")
    files = doc.get("files", [])
    if not isinstance(files, list):
        raise Damaged(f"files is {_kind(files)}, not a list")
    if len(files) > MAX_FILES:
        raise Damaged(f"it lists {len(files)} files")
    seen: set[str] = set()
    for i, rec in enumerate(files):
        path = check_record(rec, directory, f"files[{i}]")
        if path in seen:
            raise Damaged(f"files[{i}] names {path} a second time")
        seen.add(path)
    check_settings(doc.get("settings", {}))
    return doc


def check_record(rec: object, directory: Path, where: str) -> str:
    if not isinstance(rec, dict):
        raise Damaged(f"{where} is {_kind(rec)}, not an object")
    path = rec.get("path")
    if not _plain_path(path):
        raise Damaged(f"{where}.path {path!r} is not an absolute, normalised path")
    if not isinstance(rec.get("sha256"), str) or not _SHA256.match(rec["sha256"]):
        raise Damaged(f"{where}.sha256 is not a sha256")
    if not isinstance(rec.get("target", ""), str) or not _TARGET.match(rec.get("target", "")):
        raise Damaged(f"{where}.target is not a target name")
    if not isinstance(rec.get("created", True), bool):
        raise Damaged(f"{where}.created is not true or false")
    backup = rec.get("backup")
    if backup is not None and not (_plain_path(backup)
                                   and Path(backup).parent == directory / "backups"):
        raise Damaged(f"{where}.backup {backup!r} is not a file in {directory / 'backups'}")
    return str(path)


def check_settings(settings: object) -> None:
    """What apply recorded: env {NAME: value}, unset [NAME], models {model: {param: value}},
    and the target, its path and the backend as text."""
    if not isinstance(settings, dict):
        raise Damaged(f"settings is {_kind(settings)}, not an object")
    env = settings.get("env", {})
    if not isinstance(env, dict) or not all(
            isinstance(k, str) and _NAME.match(k) and isinstance(v, str) for k, v in env.items()):
        raise Damaged("settings.env is not a map of setting names to text")
    unset = settings.get("unset", [])
    if not isinstance(unset, list) or not all(isinstance(n, str) and _NAME.match(n)
                                              for n in unset):
        raise Damaged("settings.unset is not a list of setting names")
    models = settings.get("models", {})
    if not isinstance(models, dict) or not all(
            isinstance(m, str) and isinstance(p, dict) and all(_param(v) for v in p.values())
            for m, p in models.items()):
        raise Damaged("settings.models is not a map of models to parameters")
    for key in ("target", "target_path", "backend"):
        if not isinstance(settings.get(key, ""), str):
            raise Damaged(f"settings.{key} is not text")


def _param(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value))


def _plain_path(path: object) -> bool:
    return (isinstance(path, str) and os.path.isabs(path) and "\0" not in path
            and os.path.normpath(path) == path and len(path) <= 4096)


def _depth(value: object, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, Mapping):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _kind(value: object) -> str:
    return {type(None): "null", list: "a list", dict: "an object", str: "text", bool: "true "
            "or false", int: "a number", float: "a number"}.get(type(value), type(value).__name__)
