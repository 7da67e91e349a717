"""The I/O shell of `velollm verify` that no backend owns: what was applied, how old the server
process is against the files velollm wrote, and the exit code. Each backend gathers its own
evidence (velollm/backends/<name>/evidence.py) for the pure effect check (velollm/core/effect.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from velollm.core import effect
from velollm.errors import VelollmError
from velollm.io.state import State

EXIT_NOT_EFFECTIVE = 4

EXIT_REGRESSED = 5
# Two ages closer than this cannot be ordered (/proc/uptime has 10 ms steps, and so do ticks).

_AGE_TOLERANCE_S = 0.05

class NothingAppliedError(VelollmError):
    pass


def wanted_settings(state: State) -> tuple[dict[str, str], str]:
    """(env, target kind) velollm last applied; a clear error when nothing was applied yet."""
    env = state.settings.get("env")
    if not state.files or not isinstance(env, dict):
        raise NothingAppliedError("velollm has not applied a configuration on this machine yet",
                                  hint="run `velollm plan` and `velollm apply` first")
    return {str(k): str(v) for k, v in env.items()}, str(state.settings.get("target") or "")


def applied_backend(state: State) -> str | None:
    """The backend whose settings velollm last applied (None: state older than backends)."""
    name = state.settings.get("backend")
    return name if isinstance(name, str) else None


def process_age_s(pid: int, proc: Path = Path("/proc")) -> float | None:
    """Seconds since the process started: /proc/uptime minus its start tick (field 22 of stat).

    Ages, not wall-clock times: both come from the same boot clock, so no NTP step or integer
    btime rounding gets between them."""
    try:
        uptime = float((proc / "uptime").read_text().split()[0])
        stat = (proc / str(pid) / "stat").read_text()
    except (OSError, ValueError, IndexError):
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # the command name may contain spaces
    try:
        start_ticks = int(fields[19])  # field 22 overall; fields[0] is field 3
    except (IndexError, ValueError):
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


def exit_code(effects: Sequence[effect.Effect], benchmark: str | None) -> int:
    """0: no setting known to be ineffective and no confirmed regression; 4: a setting is not
    effective (checked first: a benchmark of settings not in force proves nothing); 5: the
    benchmark confirmed a regression. `unknown` and `inconclusive` are reported, not failed."""
    if any(e.status == "not effective" for e in effects):
        return EXIT_NOT_EFFECTIVE
    if benchmark == "regressed":
        return EXIT_REGRESSED
    return 0
