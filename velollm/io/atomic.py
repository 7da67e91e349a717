"""The durable file primitives under fileops: write atomically, delete, read. fileops decides
what to write (backups, state, conflicts); it and the few writers of velollm's own documents
(plan files, baselines, velollm.yaml) call these.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from velollm.errors import write_error

_TMP_SUFFIX = ".velollm-tmp"


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` in one step; keeps the mode and owner of a file it replaces."""
    path = Path(os.path.realpath(path))  # write through a symlinked dotfile, keep the link
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise write_error(exc, path) from None
    tmp = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TMP_SUFFIX)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), stat.S_IMODE(old.st_mode) if old else mode)
            if old and (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(PermissionError):  # only root may give files away
                    os.fchown(fh.fileno(), old.st_uid, old.st_gid)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = ""
        _fsync_dir(path.parent)
    except OSError as exc:
        raise write_error(exc, path) from None
    finally:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def remove_file(path: Path) -> bool:
    """Delete `path` (durably); False when it was already gone."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise write_error(exc, path, "remove") from None
    _fsync_dir(path.parent)
    return True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(path: Path) -> None:
    """Temp files of a writer killed mid-write; safe to remove because we hold the lock."""
    for stale in path.parent.glob(f".{path.name}.*{_TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            stale.unlink()


def read_bytes(path: Path) -> bytes | None:
    """The bytes of `path`; None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise write_error(exc, path, "read") from None
