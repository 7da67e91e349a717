"""Documents already found valid: `plan` and `status` check the same velollm.yaml and hardware
document run after run, and jsonschema costs ~60 ms to import and build on a 2-core machine (a
third of an offline plan). A document that passed is remembered by the hash of everything its
verdict depends on; the next run with the same inputs skips the import.

Only a pass is remembered: a document with problems is always checked again, so every message a
user sees comes from jsonschema itself. The key covers the schema, the document, the validator
code of velollm (io/schemas.py) and the installed jsonschema (its files' size and time), so
a change of any of them is a miss. The markers live in $XDG_CACHE_HOME/velollm/valid/: losing
them only costs the next run the import.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_FORMAT = 1  # bump when what a marker means changes
_KEEP = 64  # markers kept after a trim: one per recent version of each file
_TRIM_AT = 256
_PENDING: set[str] = set()  # passes of this run, written by flush() when it succeeds


def key(schema: Mapping[str, Any], data: Any) -> str | None:
    """The marker's name for (schema, data); None when `data` is not plain JSON (keys other than
    strings, dates from YAML): such a document is always validated."""
    if not _plain(data) or not _plain(schema):
        return None
    stamp = _validator_stamp()
    if stamp is None:
        return None
    blob = json.dumps([_FORMAT, stamp, schema, data], sort_keys=True, separators=(",", ":"),
                      allow_nan=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def known_valid(marker: str | None) -> bool:
    return marker is not None and (marker in _PENDING or _marker_path(marker).is_file())


def remember_valid(marker: str | None) -> None:
    """Note the pass; flush() writes it once the command has succeeded (a run that fails, on
    bad input or otherwise, writes nothing at all)."""
    if marker is not None:
        _PENDING.add(marker)


def flush() -> None:
    """Leave the markers of this run; any failure only means the next run validates again."""
    from velollm.errors import VelollmError
    from velollm.io.atomic import atomic_write

    while _PENDING:
        path = _marker_path(_PENDING.pop())
        with contextlib.suppress(OSError, VelollmError):
            atomic_write(path, b"", 0o600)
            _trim(path.parent)


def _plain(value: Any, depth: int = 0) -> bool:
    """JSON's own types only, so two different documents never share a key (YAML's {1: x} and
    {"1": x} dump alike); the depth bound matches what the readers accept."""
    if depth > 64:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def _validator_stamp() -> list[object] | None:
    """What identifies the validator: velollm's io/schemas.py and jsonschema's installed files,
    found without importing jsonschema (that import is what the memo saves)."""
    from importlib.util import find_spec

    try:
        spec = find_spec("jsonschema")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    stamp: list[object] = []
    package = Path(spec.origin).parent
    for path in (Path(__file__).with_name("schemas.py"), package / "_keywords.py",
                 package / "validators.py", package / "_types.py"):
        try:
            st = path.stat()
        except OSError:
            return None
        stamp += [str(path), st.st_size, st.st_mtime_ns]
    return stamp


def _marker_path(marker: str) -> Path:
    from velollm.io.xdg import cache_dir

    return cache_dir() / "valid" / marker


def _trim(directory: Path) -> None:
    """Keep the directory small: past _TRIM_AT markers, the oldest go."""
    entries = list(os.scandir(directory))
    if len(entries) <= _TRIM_AT:
        return
    entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns, reverse=True)
    for entry in entries[_KEEP:]:
        if entry.is_file(follow_symlinks=False) and len(entry.name) == 64:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
