"""The one exception hierarchy. Every message says what happened and what to do."""

from __future__ import annotations

import errno
from pathlib import Path


class VelollmError(Exception):
    """An expected failure: shown as one line (plus hint), exit 1."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path  # key path ($.server.x) or file the error is about, "" when none

    def __str__(self) -> str:
        return self.message


class UsageError(VelollmError):
    """The command line is wrong (an option value it cannot use): exit 2, as argparse's errors."""

    exit_code = 2


class ConfigError(VelollmError):
    """velollm.yaml (or a profile, plan, hardware file) cannot be used."""


class SchemaValidationError(ConfigError):
    """One or more schema violations; `problems` holds every one of them."""

    def __init__(self, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


class HardwareDetectionError(VelollmError):
    pass


class ServerUnreachableError(VelollmError):
    pass


class ServerTimeoutError(ServerUnreachableError):
    """The server took the connection but did not answer in time (busy or stuck, not absent)."""


class ServerResponseError(VelollmError):
    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ApplyConflictError(VelollmError):
    pass


class StalePlanError(VelollmError):
    pass


class LockHeldError(VelollmError):
    pass


class WriteError(VelollmError):
    """A file could not be written, removed or read back; the original is untouched."""


def write_error(exc: OSError, path: Path | str, action: str = "write") -> WriteError:
    """One clear message per failure class; the original file is untouched in every case.

    Here rather than in fileops so that filelock (which fileops imports) can use it too.
    """
    kept = "the original is unchanged"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return WriteError(f"permission denied: cannot {action} {path}",
                          hint=f"run with sudo (files under /etc need root); {kept}", path=str(path))
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return WriteError(f"no space left on the device holding {path}",
                          hint=f"free some space and run again; {kept}", path=str(path))
    if exc.errno == errno.EROFS:
        return WriteError(f"{path} is on a read-only file system",
                          hint=f"choose another path with --path; {kept}", path=str(path))
    return WriteError(f"cannot {action} {path}: {exc.strerror or exc}", hint=kept, path=str(path))
