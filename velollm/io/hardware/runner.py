"""Run an external tool with a hard timeout and turn every failure into a value, never an exception.

A missing tool is "absent", a non-zero exit is "error" (with the tool's own first line as the reason),
a hang is "timeout". The child runs in its own session so a timeout kills the whole process group: a
wrapper script whose child keeps the pipe open would otherwise make communicate() wait forever.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from velollm.core.hardware import ProbeStatus

Which = Callable[[str], str | None]


@dataclass(frozen=True)
class ProbeContext:
    """Everything a probe reads from the machine, injectable for tests (real defaults)."""

    root: Path = Path("/")
    which: Which = shutil.which
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    system: str | None = None  # platform.system().lower() when None
    home: Path | None = None  # Path.home() when None
    deadline: float | None = None  # time.monotonic() by which every probe must have answered

    def budget(self, timeout: float) -> float:
        """The time one call may take: its own timeout, cut to what is left before the deadline."""
        if self.deadline is None:
            return timeout
        return max(0.05, min(timeout, self.deadline - time.monotonic()))

    def path(self, absolute: str) -> Path:
        """`/proc/cpuinfo` under the injected root."""
        return self.root / absolute.lstrip("/")

    def user_home(self) -> Path:
        return self.home if self.home is not None else Path.home()


@dataclass(frozen=True)
class ToolResult:
    status: ProbeStatus
    stdout: str = ""
    detail: str = ""
    stderr: str = ""
    returncode: int | None = None


def run_tool(argv: Sequence[str], *, timeout: float, which: Which = shutil.which,
             env: Mapping[str, str] | None = None) -> ToolResult:
    exe = which(argv[0])
    if exe is None:
        return ToolResult("absent", detail=f"{argv[0]} not found on PATH")
    child_env = {**(env if env is not None else os.environ), "LC_ALL": "C", "LANG": "C"}
    try:
        proc = subprocess.Popen([exe, *argv[1:]], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                errors="replace", env=child_env, start_new_session=True)
    except OSError as exc:
        return ToolResult("error", detail=f"{argv[0]} could not start: {exc.strerror or exc}")
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return ToolResult("timeout", detail=f"{argv[0]} did not answer within {timeout:g} s")
    if proc.returncode != 0:
        reason = _first_line(err) or _first_line(out) or "no output"
        return ToolResult("error", stdout=out, stderr=err, returncode=proc.returncode,
                          detail=f"{argv[0]} exited {proc.returncode}: {reason}")
    return ToolResult("ok", stdout=out, stderr=err, returncode=0)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    killpg = getattr(os, "killpg", None)  # POSIX only; Windows has no process groups here
    try:
        if killpg is None:
            raise ProcessLookupError
        killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    # The pipes close once the whole group is dead, so this returns promptly.
    proc.communicate()


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""
