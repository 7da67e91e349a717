"""CPU tick counters for core/contention.py: /proc/stat, /proc/loadavg, /proc/<pid>/stat of the
server (and of its children, from the kernel's children lists: never a scan) and of velollm.
Linux only: elsewhere `ticks` returns None and the benchmark document says nothing of contention.
"""

from __future__ import annotations

import os
from pathlib import Path

from velollm.core.contention import Ticks
from velollm.io.processes import stat_fields

PROC = Path("/proc")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


def _cpu_line(text: str) -> tuple[int, int, int | None] | None:
    """(total, idle + iowait, steal) from /proc/stat's aggregate `cpu` line."""
    for line in text.splitlines():
        name, *values = line.split()
        if name != "cpu":
            continue
        try:
            nums = [int(v) for v in values]
        except ValueError:
            return None
        if len(nums) < 4:
            return None
        # guest and guest_nice (fields 9, 10) are already counted in user and nice
        return sum(nums[:8]), sum(nums[3:5]), nums[7] if len(nums) > 7 else None
    return None


def process_ticks(pid: int, proc: Path = PROC, *, children_waited: bool = False) -> int | None:
    """utime + stime of `pid` (all its threads), plus cutime + cstime with `children_waited`."""
    fields = stat_fields(pid, proc)
    try:
        return None if fields is None else sum(int(f) for f in
                                                fields[11:15 if children_waited else 13])
    except ValueError:
        return None


def _children(pid: int, proc: Path) -> set[int]:
    kids: set[int] = set()
    try:
        tasks = os.listdir(proc / str(pid) / "task")
    except OSError:
        return kids
    for tid in tasks:
        text = _read(proc / str(pid) / "task" / tid / "children") or ""
        kids |= {int(k) for k in text.split() if k.isdigit()}
    return kids


def tree_ticks(pid: int, proc: Path = PROC) -> int | None:
    """The server's own ticks (with its exited children's) and those of its live descendants
    (Ollama's model runner is a child of `ollama serve`)."""
    root = process_ticks(pid, proc, children_waited=True)
    if root is None:
        return None
    seen, todo, total = {pid}, list(_children(pid, proc)), root
    while todo:
        kid = todo.pop()
        if kid in seen:
            continue
        seen.add(kid)
        total += process_ticks(kid, proc) or 0
        todo.extend(_children(kid, proc))
    return total


def ticks(server_pid: int | None, proc: Path = PROC, own_pid: int | None = None) -> Ticks | None:
    """One reading of the counters; None where /proc/stat is not readable (not Linux)."""
    cpu = _cpu_line(_read(proc / "stat") or "")
    if cpu is None:
        return None
    load_text = (_read(proc / "loadavg") or "").split()
    try:
        load1: float | None = float(load_text[0])
    except (IndexError, ValueError):
        load1 = None
    return Ticks(cpu[0], cpu[1], cpu[2],
                 None if server_pid is None else tree_ticks(server_pid, proc),
                 process_ticks(os.getpid() if own_pid is None else own_pid, proc), load1)
