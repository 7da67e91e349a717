"""Any other GPU through `lspci -mm` (names only: PCI config space says nothing about VRAM).

The detector drops entries of a vendor that a richer source (NVML, rocm-smi) already reported, so an
NVIDIA card is not counted twice while an Intel iGPU beside it still shows up.
"""

from __future__ import annotations

import shlex

from velollm.core.hardware import Gpu, Probe, Vendor
from velollm.io.hardware.runner import ProbeContext, run_tool

LSPCI = ["lspci", "-mm"]
GPU_CLASSES = ("VGA compatible controller", "3D controller", "Display controller")
# Server management controllers expose a VGA function that nobody runs models on.
BMC_VENDORS = ("ASPEED", "Matrox")
NOTE = "VRAM unknown (lspci reports names only)"


def probe(ctx: ProbeContext, timeout: float) -> tuple[list[Gpu], Probe]:
    result = run_tool(LSPCI, timeout=ctx.budget(timeout), which=ctx.which, env=ctx.environ)
    if result.status != "ok":
        return [], Probe("lspci", result.status, result.detail)
    gpus, skipped = parse(result.stdout)
    detail = f"{len(gpus)} display adapter(s)"
    if skipped:
        detail += f"; ignored {skipped} server management (BMC) adapter(s)"
    return gpus, Probe("lspci", "ok", detail)


def vendor_of(text: str) -> Vendor:
    lowered = text.lower()
    if "nvidia" in lowered:
        return "nvidia"
    if "advanced micro devices" in lowered or "amd/ati" in lowered or lowered.startswith("ati "):
        return "amd"
    if lowered.startswith("intel"):
        return "intel"
    return "other"


def parse(text: str) -> tuple[list[Gpu], int]:
    """Return the display adapters and how many BMC adapters were left out."""
    gpus: list[Gpu] = []
    skipped = 0
    for line in text.splitlines():
        try:
            fields = [f for f in shlex.split(line) if not f.startswith("-")]
        except ValueError:
            continue
        if len(fields) < 4 or fields[1] not in GPU_CLASSES:
            continue
        slot, _cls, vendor_name, device = fields[:4]
        if vendor_name.startswith(BMC_VENDORS):
            skipped += 1
            continue
        vendor = vendor_of(vendor_name)
        name = device if vendor != "other" else f"{vendor_name} {device}"
        gpus.append(Gpu(index=len(gpus), vendor=vendor, name=name, source="lspci",
                        notes=(NOTE, f"PCI slot {slot}")))
    return gpus, skipped
