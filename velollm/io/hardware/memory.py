"""RAM and swap. The only module that imports psutil.

On Linux /proc/meminfo is read directly: it is what psutil reads too, and skipping the import keeps
`velollm detect` fast. Other systems (macOS, Windows) go through psutil.
"""

from __future__ import annotations

from velollm.core.hardware import Memory, Probe
from velollm.io.hardware.runner import ProbeContext

KIB = 1024


def probe(ctx: ProbeContext) -> tuple[Memory, Probe]:
    try:
        text = ctx.path("/proc/meminfo").read_text(encoding="utf-8")
    except OSError:
        return _psutil()
    memory = parse_meminfo(text)
    if memory is None:
        return _psutil()
    limit = _cgroup_limit(ctx)
    if limit is not None and limit < memory.total_bytes:
        # /proc/meminfo shows the host; the cgroup (a container's --memory) is what we may use.
        capped = Memory(total_bytes=limit, available_bytes=min(memory.available_bytes, limit),
                        swap_total_bytes=memory.swap_total_bytes)
        return capped, Probe("memory", "ok", f"/proc/meminfo, capped by the cgroup limit "
                                             f"of {limit} bytes")
    return memory, Probe("memory", "ok", "/proc/meminfo")


def _cgroup_limit(ctx: ProbeContext) -> int | None:
    """cgroup v2 memory.max, or v1 memory.limit_in_bytes ("max" / a huge number: no limit)."""
    for name in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = ctx.path(name).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        return int(text) if text.isdigit() else None
    return None


def parse_meminfo(text: str) -> Memory | None:
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key.strip()] = int(parts[0]) * (KIB if parts[1:] == ["kB"] else 1)
    if "MemTotal" not in values:
        return None
    # MemAvailable exists since Linux 3.14; before that free + page cache is the usual estimate.
    available = values.get("MemAvailable",
                           values.get("MemFree", 0) + values.get("Cached", 0)
                           + values.get("Buffers", 0))
    return Memory(total_bytes=values["MemTotal"], available_bytes=available,
                  swap_total_bytes=values.get("SwapTotal", 0))


def _psutil() -> tuple[Memory, Probe]:
    try:
        import psutil
    except ImportError as exc:
        return Memory(0, 0, 0), Probe("memory", "error", f"psutil is not installed ({exc})")
    vm, swap = psutil.virtual_memory(), psutil.swap_memory()
    return (Memory(total_bytes=int(vm.total), available_bytes=int(vm.available),
                   swap_total_bytes=int(swap.total)), Probe("memory", "ok", "psutil"))
