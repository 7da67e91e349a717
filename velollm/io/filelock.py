"""The apply/destroy lock: one writer at a time on a state directory.

fcntl.flock on <state dir>/lock (mode 0600, in the 0700 state directory; never through a
symbolic link). The kernel drops the lock when its process dies, so a kill -9 never
leaves a stale lock behind. The lock file holds the holder's pid, for the message of the one waiting.
Writing that pid is the only write here; every other write goes through fileops.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from velollm.errors import LockHeldError, WriteError, write_error
from velollm.io.atomic import UnsafeFileError, check_plain, private_dir, read_bytes

LOCK_FILE = "lock"
LOCK_TIMEOUT = 10.0
_POLL_S = 0.05


@contextlib.contextmanager
def file_lock(directory: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Exclusive apply/destroy lock; waits up to `timeout` seconds, then LockHeldError."""
    path = directory / LOCK_FILE
    private_dir(directory)
    try:
        # O_NOFOLLOW: a lock file swapped for a link to another file must not get that file
        # truncated (issue 15); ELOOP says it is a link
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            check_plain(path)
        raise write_error(exc, path, "create the lock") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafeFileError(f"the lock file {path} is not a regular file",
                              hint="move it away and run again; nothing was written",
                              path=str(path))
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o600)  # a lock an earlier velollm made 0644
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _lock_held(path, timeout) from None
                time.sleep(_POLL_S)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the flock


def _lock_held(path: Path, timeout: float) -> LockHeldError:
    try:
        holder = f" (pid {int((read_bytes(path, 64) or b'').strip())})"
    except (WriteError, ValueError):
        holder = ""
    return LockHeldError(f"another velollm apply or destroy is running{holder}; "
                         f"gave up after waiting {timeout:g} s for {path}",
                         hint="wait for it to finish, then run again", path=str(path))
