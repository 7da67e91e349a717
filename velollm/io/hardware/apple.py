"""macOS GPUs through `system_profiler SPDisplaysDataType -json`, RAM through `sysctl -n hw.memsize`.

Apple Silicon has no VRAM of its own: Metal lets the GPU wire up to `recommendedMaxWorkingSetSize`,
which macOS sets to about 2/3 of RAM up to 36 GiB and 3/4 above (Ollama and llama.cpp take that
figure as the GPU's total). We report that budget, mark the memory unified, and say so in a note.
"""

from __future__ import annotations

import json
from typing import Any

from velollm.core.hardware import Gpu, Probe, Vendor
from velollm.io.hardware.runner import ProbeContext, run_tool

SYSTEM_PROFILER = ["system_profiler", "SPDisplaysDataType", "-json"]
SYSCTL_MEMSIZE = ["sysctl", "-n", "hw.memsize"]
GIB = 1024**3
_VENDORS: dict[str, Vendor] = {"apple": "apple", "amd": "amd", "ati": "amd", "intel": "intel",
                               "nvidia": "nvidia"}


def gpu_budget(memsize: int) -> int:
    return memsize * 2 // 3 if memsize <= 36 * GIB else memsize * 3 // 4


def probe(ctx: ProbeContext, timeout: float) -> tuple[list[Gpu], Probe]:
    profiler = run_tool(SYSTEM_PROFILER, timeout=ctx.budget(timeout), which=ctx.which, env=ctx.environ)
    if profiler.status != "ok":
        return [], Probe("system_profiler", profiler.status, profiler.detail)
    sysctl = run_tool(SYSCTL_MEMSIZE, timeout=ctx.budget(timeout), which=ctx.which, env=ctx.environ)
    memsize = parse_memsize(sysctl.stdout) if sysctl.status == "ok" else None
    try:
        gpus = parse(profiler.stdout, memsize)
    except ValueError as exc:
        return [], Probe("system_profiler", "error", f"unreadable system_profiler output: {exc}")
    detail = f"{len(gpus)} GPU(s)"
    if memsize is None:
        detail += f"; unified memory size unknown: {sysctl.detail or 'no number from sysctl'}"
    return gpus, Probe("system_profiler", "ok", detail)


def parse_memsize(text: str) -> int | None:
    """`sysctl -n hw.memsize` prints the number; plain `sysctl hw.memsize` prefixes the key."""
    token = text.strip().rsplit(":", 1)[-1].strip()
    return int(token) if token.isdigit() else None


def parse(text: str, memsize: int | None) -> list[Gpu]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None
    entries = data.get("SPDisplaysDataType", []) if isinstance(data, dict) else []
    gpus: list[Gpu] = []
    for entry in entries:
        if isinstance(entry, dict) and _is_gpu(entry):
            gpus.append(_gpu(len(gpus), entry, memsize))
    return gpus


def _is_gpu(entry: dict[str, Any]) -> bool:
    return str(entry.get("sppci_device_type", "spdisplays_gpu")) == "spdisplays_gpu"


def _vendor(entry: dict[str, Any]) -> Vendor:
    raw = str(entry.get("sppci_vendor") or entry.get("spdisplays_vendor") or "").lower()
    name = str(entry.get("sppci_model") or entry.get("_name") or "").lower()
    for key, vendor in _VENDORS.items():
        if key in raw or name.startswith(key):
            return vendor
    return "other"


def _gpu(index: int, entry: dict[str, Any], memsize: int | None) -> Gpu:
    name = str(entry.get("sppci_model") or entry.get("_name") or f"GPU {index}")
    vendor = _vendor(entry)
    notes: list[str] = []
    if vendor == "apple":
        total = gpu_budget(memsize) if memsize else None
        notes.append("unified memory shared with the CPU: total is the GPU-usable budget "
                     "(about 2/3 of RAM up to 36 GiB, 3/4 above)")
        if entry.get("sppci_cores"):
            notes.append(f"{entry['sppci_cores']} GPU cores")
        return Gpu(index=index, vendor="apple", name=name, source="system_profiler",
                   vram_total_bytes=total, unified_memory=True,
                   compute_capability=_metal(entry), notes=tuple(notes))
    # Intel Macs: discrete cards list "spdisplays_vram", integrated ones "spdisplays_vram_shared".
    dedicated = _size(entry.get("spdisplays_vram"))
    shared = _size(entry.get("spdisplays_vram_shared"))
    if dedicated is None and shared is None:
        notes.append("VRAM unknown (system_profiler did not report it)")
    return Gpu(index=index, vendor=vendor, name=name, source="system_profiler",
               vram_total_bytes=dedicated if dedicated is not None else shared,
               unified_memory=dedicated is None and shared is not None, notes=tuple(notes))


def _metal(entry: dict[str, Any]) -> str | None:
    family = str(entry.get("spdisplays_mtlgpufamilysupport") or "")
    return family.removeprefix("spdisplays_") or None  # "metal3"


def _size(value: Any) -> int | None:
    """"8 GB" / "1536 MB" as system_profiler writes them."""
    parts = str(value or "").split()
    if len(parts) != 2 or not parts[0].isdigit():
        return None
    return int(parts[0]) * {"MB": 1024**2, "GB": GIB}.get(parts[1].upper(), 0) or None
