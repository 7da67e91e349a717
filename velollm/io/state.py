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

from velollm.errors import VelollmError, WriteError
from velollm.io.atomic import UnsafeFileError, read_bytes
from velollm.io.statecheck import check_document
from velollm.io.xdg import state_dir

STATE_VERSION = 1
STATE_LIMIT = 4 << 20  # a few hundred records at most; more is not velollm's state
FILE_LIMIT = 16 << 20  # a managed file velollm wrote is a few KiB
NOT_A_FILE = "not a regular file"  # file_hash of a symlink, FIFO, device: no sha256 is this
UNREADABLE = "unreadable"


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
    """sha256 of a managed file; None when it is gone. A symbolic link or anything but a regular
    file (a FIFO or /dev/zero would never end) is never followed or read: it hashes to a value
    no content has, so it shows as changed."""
    try:
        data = read_bytes(Path(path), FILE_LIMIT)
    except UnsafeFileError:
        return NOT_A_FILE
    except WriteError as exc:
        raise OSError(exc.message) from None  # unreadable: status says so
    return None if data is None else sha256_bytes(data)


def load_state(directory: Path | None = None) -> State:
    """The recorded state; an empty State when nothing was applied yet. A state file that is a
    symbolic link, not a regular file, too big, not JSON or not velollm's shape is a StateError
    that says how to recover, raised before anything is written (issue 15)."""
    path = state_path(directory)
    try:
        data = read_bytes(path, STATE_LIMIT)
    except UnsafeFileError as exc:
        raise _damaged(path, exc.message.removeprefix(f"{path} ")) from None
    except WriteError as exc:
        raise StateError(f"cannot read the state file: {exc.message}",
                         hint="check its permissions (files written as root need sudo)",
                         path=str(path)) from None
    if data is None:
        return State()
    try:
        return from_dict(check_document(json.loads(data.decode("utf-8")), path.parent))
    except UnicodeDecodeError:
        raise _damaged(path, "it is not UTF-8 text") from None
    except RecursionError:
        raise _damaged(path, "it is nested too deeply") from None
    except ValueError as exc:  # JSON's errors, and check_document's
        raise _damaged(path, str(exc)) from None


def _damaged(path: Path, why: str) -> StateError:
    return StateError(f"the state file {path} is damaged ({why}); nothing was written",
                      hint=f"move it aside (`mv {path} {path}.damaged`): velollm then no "
                           "longer manages the files it wrote; delete them by hand if you want "
                           "them gone, or let `velollm apply --force` take them over (it keeps "
                           "a backup)", path=str(path))


def from_dict(doc: dict[str, Any]) -> State:
    if doc.get("version") != STATE_VERSION:
        raise ValueError(f"unsupported state version {doc.get('version')!r}")
    files = tuple(FileRecord(path=f["path"], sha256=f["sha256"], target=f.get("target", ""),
                             created=f.get("created", True), backup=f.get("backup"))
                  for f in doc.get("files", []))
    return State(files=files, settings=dict(doc.get("settings", {})),
                 plan_id=doc.get("plan_id", ""), fingerprint=doc.get("fingerprint", ""),
                 applied_at=doc.get("applied_at", ""))


def drifted(state: State) -> list[Drift]:
    """Managed files whose bytes differ from what velollm wrote (hand edits, deletions)."""
    out = []
    for rec in state.files:
        try:
            actual = file_hash(rec.path)
        except OSError:
            actual = UNREADABLE
        if actual != rec.sha256:
            out.append(Drift(rec.path, rec.sha256, actual))
    return out
