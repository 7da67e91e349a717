"""What fileops checks before it writes anything (issue 15: files that lie): the paths and modes
a plan may ask for, whether a recorded file is velollm's, velollm's own directories, and whether
every write would succeed, so that a refusal leaves nothing half-applied."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from velollm.errors import WriteError, write_error
from velollm.io.atomic import UNSAFE_MODE_BITS, check_dir, check_plain
from velollm.io.filelock import LOCK_FILE


class FileSpec(Protocol):
    """What apply_files needs of a file to write (core.files.RenderedFile fits)."""

    @property
    def path(self) -> Path: ...
    @property
    def content(self) -> str: ...
    @property
    def mode(self) -> int: ...
    @property
    def kind(self) -> str: ...  # the target that rendered it, kept in state.json as `target`


def check_spec(spec: FileSpec) -> Path:
    """A file velollm may write: an absolute, normalised path and a mode without setuid,
    setgid, sticky or world-write bits (issue 15: whatever the plan says)."""
    path = Path(spec.path)
    text = str(spec.path)
    if not path.is_absolute() or os.path.normpath(text) != text or "\0" in text:
        raise WriteError(f"velollm writes only absolute, normalised paths, not {text!r}",
                         hint="nothing was written", path=text)
    mode = spec.mode
    if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o7777 \
            or mode & UNSAFE_MODE_BITS:
        shown = f"{mode:o}" if isinstance(mode, int) and not isinstance(mode, bool) else repr(mode)
        raise WriteError(f"velollm never writes {text} with mode {shown}: no setuid, setgid, "
                         "sticky or world-writable file", hint="nothing was written", path=text)
    return path


def check_writable(paths: Sequence[Path]) -> None:
    """Fail before the first write when a later one would be refused (nothing half-applied)."""
    for path in paths:
        probe = path.parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent  # the directory that mkdir will have to write into
        if os.statvfs(probe).f_flag & os.ST_RDONLY:
            raise write_error(OSError(errno.EROFS, "Read-only file system"), path)
        if not os.access(probe, os.W_OK | os.X_OK):
            raise write_error(OSError(errno.EACCES, "Permission denied"), path)


def ours(data: bytes) -> bool:
    """Is the file a record names velollm's? Every file velollm renders names velollm (its
    "Managed by velollm" header, the launchd label com.velollm...), and a hand edit keeps that;
    a record pointing at another file (a damaged or planted state.json: ~/.bashrc, with its
    sha256 even) does not, and velollm neither deletes nor overwrites it (issue 15)."""
    return b"velollm" in data


def check_own_dirs(directory: Path) -> None:
    """The state directory and its backups/: directories, never symbolic links; the lock file:
    a regular file (issue 15). Checked before the preview, so a refusal shows no plan."""
    check_dir(directory)
    check_dir(directory / "backups")
    check_plain(directory / LOCK_FILE)
