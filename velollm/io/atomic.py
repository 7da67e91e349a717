"""The durable file primitives under fileops: write atomically, delete, read. fileops decides
what to write (backups, state, conflicts); it and the few writers of velollm's own documents
(plan files, baselines, velollm.yaml) call these.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from velollm.errors import WriteError, write_error

_TMP_SUFFIX = ".velollm-tmp"
# Never written, whatever a plan file or a replaced file says (issue 15): setuid, setgid,
# sticky, and write permission for others.
UNSAFE_MODE_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWOTH
NO_SYMLINK = "velollm writes through no symbolic link it did not create"


class UnsafeFileError(WriteError):
    """A path velollm would read or write is a symbolic link, not a regular file, or too big."""


def safe_mode(mode: int) -> int:
    """`mode` without the bits velollm never writes."""
    return stat.S_IMODE(mode) & ~UNSAFE_MODE_BITS


def check_plain(path: Path) -> os.stat_result | None:
    """lstat of `path`, refusing a symbolic link and anything but a regular file; None: absent.
    Only the final component is checked: a symlinked ~/.config is the user's own choice."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise write_error(exc, path, "inspect") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFileError(f"{path} is a symbolic link (to {_link_target(path)}): {NO_SYMLINK}",
                              hint="replace the link by the file itself (or remove it) and run "
                                   "again; nothing was written", path=str(path))
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(f"{path} is not a regular file", hint="move it away and run again; "
                              "nothing was written", path=str(path))
    return st


def check_dir(path: Path) -> None:
    """A directory of velollm's own that may not exist yet: never a symbolic link."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise write_error(exc, path, "inspect") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeFileError(f"{path} is a symbolic link (to {_link_target(path)}): "
                              f"{NO_SYMLINK}", hint="move the directory it points to back "
                              "in its place and run again; nothing was written", path=str(path))
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFileError(f"{path} is not a directory", hint="move it away and run "
                              "again; nothing was written", path=str(path))


def private_dir(path: Path) -> None:
    """Create `path` (mode 0700) or check it: a directory of velollm's own (the state directory,
    its backups), never a symbolic link; one velollm created wider is narrowed to 0700."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        check_dir(path)
        st = os.lstat(path)
        if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.geteuid():
            os.chmod(path, 0o700)  # backups and state are nobody else's business
    except OSError as exc:
        raise write_error(exc, path, "create the directory") from None


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def atomic_write(path: Path, data: bytes, mode: int = 0o644, *, keep_mode: bool = True) -> None:
    """Replace `path` with `data` in one step; keeps the mode (keep_mode, less the unsafe bits)
    and owner of a file it replaces. A symbolic link at `path` is refused, never followed: the
    rename would replace the link anyway, and writing through it is how a swapped link makes
    velollm write another file (issue 15)."""
    import tempfile  # not at import: reading (plan, status) never needs it

    old = check_plain(path)
    tmp = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TMP_SUFFIX)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), safe_mode(old.st_mode if old and keep_mode else mode))
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


def read_bytes(path: Path, limit: int = 16 << 20, *, follow: bool = False) -> bytes | None:
    """The bytes of the regular file `path`; None when it does not exist. Refuses a symbolic link
    (O_NOFOLLOW; `follow`: an input the user named, read through its link), anything but a
    regular file (a FIFO or /dev/zero would never end) and a file larger than `limit` bytes."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            check_plain(path)  # raises the symlink's message
        raise write_error(exc, path, "read") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeFileError(f"{path} is not a regular file",
                              hint="move it away and run again; nothing was written",
                              path=str(path))
    with os.fdopen(fd, "rb") as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise write_error(exc, path, "read") from None
    if len(data) > limit:
        raise UnsafeFileError(f"{path} is larger than {limit >> 20} MiB, more than velollm "
                              "ever writes", hint="move it away and run again; nothing was "
                              "written", path=str(path))
    return data
