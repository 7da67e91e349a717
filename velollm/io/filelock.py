"""The apply/destroy lock: one writer at a time on a state directory.

fcntl.flock on <state dir>/lock. The kernel drops the lock when its process dies, so a kill -9 never
leaves a stale lock behind. The lock file holds the holder's pid, for the message of the one waiting.
Writing that pid is the only write here; every other write goes through fileops.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from velollm.errors import LockHeldError, write_error

LOCK_FILE = "lock"
LOCK_TIMEOUT = 10.0
_POLL_S = 0.05


@contextlib.contextmanager
def file_lock(directory: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Exclusive apply/destroy lock; waits up to `timeout` seconds, then LockHeldError."""
    path = directory / LOCK_FILE
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_error(exc, path, "create the lock") from None
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
        holder = f" (pid {int(path.read_text().strip())})"
    except (OSError, ValueError):
        holder = ""
    return LockHeldError(f"another velollm apply or destroy is running{holder}; "
                         f"gave up after waiting {timeout:g} s for {path}",
                         hint="wait for it to finish, then run again", path=str(path))
