"""What velollm wrote and when: $XDG_STATE_HOME/velollm/state.json (default ~/.local/state/velollm).

This module only reads; every write goes through fileops (the one writer), which imports this module
(not the other way round, so there is no import cycle).

state.json (version 1):
    {"version": 1, "applied_at": ISO-8601 UTC, "plan_id": str, "fingerprint": str,
     "settings": {...},
     "files": [{"path", "sha256", "target", "created", "backup"}]}
`created` is true when the file did not exist before velollm wrote it (destroy deletes it);
otherwise `backup` names the copy of the original in <state dir>/backups/ (destroy restores it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from velollm.errors import VelollmError
from velollm.io.xdg import state_dir

STATE_VERSION = 1


class StateError(VelollmError):
    pass


@dataclass(frozen=True)
class FileRecord:
    path: str
    sha256: str
    target: str = ""
    created: bool = True
    backup: str | None = None  # path of the saved original, when velollm replaced a foreign file


@dataclass(frozen=True)
class State:
    files: tuple[FileRecord, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    plan_id: str = ""
    fingerprint: str = ""
    applied_at: str = ""
    version: int = STATE_VERSION

    def record(self, path: Path | str) -> FileRecord | None:
        key = str(path)
        return next((f for f in self.files if f.path == key), None)

    def to_json(self) -> str:
        doc = asdict(self)
        doc["files"] = [asdict(f) for f in self.files]
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Drift:
    path: str
    expected_hash: str
    actual_hash: str | None  # None: the file is gone


def state_path(directory: Path | None = None) -> Path:
    return (directory or state_dir()) / "state.json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_hash(path: Path | str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return sha256_bytes(fh.read())
    except FileNotFoundError:
        return None


def load_state(directory: Path | None = None) -> State:
    """The recorded state; an empty State when nothing was applied yet."""
    path = state_path(directory)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return State()
    except OSError as exc:
        raise StateError(f"cannot read the state file {path}: {exc.strerror}",
                         hint="check its permissions (files written as root need sudo)",
                         path=str(path)) from None
    try:
        return from_dict(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        raise StateError(f"the state file {path} is damaged ({exc})",
                         hint="move it aside; velollm then treats its files as not managed",
                         path=str(path)) from None


def from_dict(doc: dict[str, Any]) -> State:
    if doc.get("version") != STATE_VERSION:
        raise ValueError(f"unsupported state version {doc.get('version')!r}")
    files = tuple(FileRecord(path=str(f["path"]), sha256=str(f["sha256"]),
                             target=str(f.get("target", "")), created=bool(f.get("created", True)),
                             backup=f.get("backup")) for f in doc.get("files", []))
    return State(files=files, settings=dict(doc.get("settings", {})),
                 plan_id=str(doc.get("plan_id", "")), fingerprint=str(doc.get("fingerprint", "")),
                 applied_at=str(doc.get("applied_at", "")))


def drifted(state: State) -> list[Drift]:
    """Managed files whose bytes differ from what velollm wrote (hand edits, deletions)."""
    out = []
    for rec in state.files:
        actual = file_hash(rec.path)
        if actual != rec.sha256:
            out.append(Drift(rec.path, rec.sha256, actual))
    return out
