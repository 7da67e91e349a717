"""Was the machine busy with something else while a benchmark ran? (issue 14)

Pure: the I/O edge (velollm/io/contention.py) reads the CPU tick counters before and after a run;
here they become shares of all the CPU time that passed, and the rule that turns a "regressed"
verdict into "unreliable" when the baseline or the new run was measured under contention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Other processes (neither the server nor velollm) used more than this share of all the CPU time
# of all CPUs during the run: a benchmark bound by the CPU, or by a GPU fed by the CPU, is slowed.
OTHER_CPU_MAX = 0.20
# The hypervisor took more than this share of the CPU time from the virtual machine (steal).
STEAL_MAX = 0.05


@dataclass(frozen=True)
class Ticks:
    """Cumulative CPU ticks at one moment (/proc/stat's first line, /proc/<pid>/stat)."""

    total: int  # every state, every CPU
    idle: int  # idle + iowait
    steal: int | None  # None: the kernel has no steal column
    server: int | None  # the server process and its children; None: not visible here
    own: int | None  # velollm's own process (the benchmark client)
    load1: float | None  # the 1-minute load average


def _share(part: int, whole: int) -> float:
    return round(max(part, 0) / whole, 4) if whole > 0 else 0.0


def contention(before: Ticks, after: Ticks, cpus: int, server_pid: int | None) -> dict[str, Any]:
    """The document's `contention`: shares (0..1) of all the CPU time that passed during the run.

    `other_cpu_share` is what neither the server (when visible) nor velollm used; without a server
    pid it is every process but velollm (system-wide), the server included."""
    total = after.total - before.total
    busy = total - (after.idle - before.idle)
    steal = None if after.steal is None or before.steal is None else after.steal - before.steal
    busy -= steal or 0
    server = None if after.server is None or before.server is None \
        else after.server - before.server
    own = None if after.own is None or before.own is None else after.own - before.own
    return {
        "cpus": cpus,
        "load_before": before.load1, "load_after": after.load1,
        "server_pid": server_pid if server is not None else None,
        "server_cpu_share": None if server is None else _share(server, total),
        "client_cpu_share": None if own is None else _share(own, total),
        "other_cpu_share": _share(busy - (server or 0) - (own or 0), total),
        "steal_share": None if steal is None else _share(steal, total),
    }


def cause(c: Mapping[str, Any] | None) -> str | None:
    """Why a run measured under `c` cannot confirm a regression; None when it was quiet enough
    (or not measured: a document older than this field, or a system without /proc)."""
    if not c:
        return None
    found = []
    other, steal = c.get("other_cpu_share"), c.get("steal_share")
    if isinstance(other, (int, float)) and other > OTHER_CPU_MAX:
        found.append(f"other processes used {other:.0%} of the CPU time (more than "
                     f"{OTHER_CPU_MAX:.0%})")
    if isinstance(steal, (int, float)) and steal > STEAL_MAX:
        found.append(f"the hypervisor stole {steal:.0%} of it (more than {STEAL_MAX:.0%})")
    if not found:
        return None
    load = c.get("load_after")
    if isinstance(load, (int, float)) and c.get("cpus"):
        found.append(f"load average {load:.1f} on {c['cpus']} CPUs")
    return ", ".join(found)


def judge(status: str, baseline: Mapping[str, Any] | None,
          new: Mapping[str, Any] | None) -> tuple[str, str | None]:
    """(status, reason): a "regressed" verdict becomes "unreliable" when either run was measured
    under contention (the reason names which run and the figures); anything else is kept."""
    if status != "regressed":
        return status, None
    causes = [f"{which}: {why}" for which, why in (("the baseline", cause(baseline)),
                                                  ("this run", cause(new))) if why]
    if not causes:
        return status, None
    return "unreliable", "; ".join(causes)
