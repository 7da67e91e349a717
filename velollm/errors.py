"""The one exception hierarchy. Every message says what happened and what to do."""

from __future__ import annotations


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
