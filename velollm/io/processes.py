"""How old a server process is, and how old the files velollm wrote: "not restarted" versus
"never read". Read from /proc for one known pid (never a scan) and from the files' mtimes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from velollm.io.state import State

_AGE_TOLERANCE_S = 0.05


def stat_fields(pid: int, proc: Path = Path("/proc")) -> list[str] | None:
    """/proc/<pid>/stat from field 3 on (fields[0] is field 3: the command name before it may
    hold spaces and parentheses); None when the process is gone or unreadable."""
    try:
        text = (proc / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split() if ")" in text else None


def process_age_s(pid: int, proc: Path = Path("/proc")) -> float | None:
    """Seconds since the process started: /proc/uptime minus its start tick (field 22 of stat).

    Ages, not wall-clock times: both come from the same boot clock, so no NTP step or integer
    btime rounding gets between them."""
    try:
        uptime = float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    fields = stat_fields(pid, proc)
    try:
        start_ticks = int(fields[19]) if fields else None  # field 22 overall
    except (IndexError, ValueError):
        return None
    if start_ticks is None:
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def restarted_since(process_age: float | None, file_ages: Sequence[float]) -> bool | None:
    """True when the server started after the newest managed file was written; None: unknown."""
    if process_age is None or not file_ages:
        return None
    newest = min(file_ages)
    if abs(newest - process_age) < _AGE_TOLERANCE_S:
        return None
    return process_age < newest


def managed_files_ages(state: State, target: str, now: float) -> list[float]:
    ages = []
    for rec in state.files:
        if rec.target and target and rec.target != target:
            continue
        try:
            ages.append(now - os.stat(rec.path).st_mtime)
        except OSError:
            continue
    return ages


def parse_environ(raw: bytes) -> dict[str, str]:
    """/proc/<pid>/environ: NUL-separated K=V pairs."""
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return env


def find_processes(is_server: Callable[[tuple[str, ...]], bool], proc: Path = Path("/proc")
                   ) -> list[tuple[int, tuple[str, ...], dict[str, str] | None]]:
    """(pid, argv, environ or None when unreadable) of every process whose argv `is_server`
    accepts, by pid; no other process's environment is read."""
    found: list[tuple[int, tuple[str, ...], dict[str, str] | None]] = []
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = tuple(a.decode("utf-8", "replace")
                         for a in (entry / "cmdline").read_bytes().split(b"\0") if a)
        except OSError:
            continue
        if not is_server(argv):
            continue
        try:
            environ: dict[str, str] | None = parse_environ((entry / "environ").read_bytes())
        except OSError:
            environ = None
        found.append((int(entry.name), argv, environ))
    return sorted(found, key=lambda p: p[0])
