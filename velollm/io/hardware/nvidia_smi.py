"""NVIDIA GPUs through `nvidia-smi --query-gpu` CSV: the fallback when NVML cannot be loaded."""

from __future__ import annotations

import csv
import io

from velollm.core.hardware import Gpu, Pcie, Probe
from velollm.io.hardware.runner import ProbeContext, run_tool

FIELDS: tuple[str, ...] = ("index", "name", "uuid", "memory.total", "memory.free", "driver_version",
          "compute_cap", "pcie.link.gen.max", "pcie.link.width.max", "clocks.max.memory")
# compute_cap needs driver >= 510; older drivers reject the whole query, so retry without it.
LEGACY_FIELDS = tuple(f for f in FIELDS if f != "compute_cap")
MIB = 1024 * 1024


def command(fields: tuple[str, ...] = FIELDS) -> list[str]:
    return ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"]


def probe(ctx: ProbeContext, timeout: float) -> tuple[list[Gpu], Probe]:
    fields = FIELDS
    result = run_tool(command(fields), timeout=ctx.budget(timeout), which=ctx.which, env=ctx.environ)
    if result.status == "error" and "not a valid field" in result.stdout + result.detail:
        fields = LEGACY_FIELDS
        result = run_tool(command(fields), timeout=ctx.budget(timeout), which=ctx.which, env=ctx.environ)
    if result.status != "ok":
        return [], Probe("nvidia-smi", result.status, result.detail)
    gpus = parse(result.stdout, fields)
    return gpus, Probe("nvidia-smi", "ok", f"{len(gpus)} GPU(s)")


def parse(text: str, fields: tuple[str, ...] = FIELDS) -> list[Gpu]:
    gpus = []
    for row in csv.reader(io.StringIO(text), skipinitialspace=True):
        if len(row) != len(fields):
            continue
        gpus.append(_gpu(dict(zip(fields, (c.strip() for c in row), strict=True))))
    return gpus


def _gpu(v: dict[str, str]) -> Gpu:
    gen, width = _int(v.get("pcie.link.gen.max")), _int(v.get("pcie.link.width.max"))
    total, free = _int(v.get("memory.total")), _int(v.get("memory.free"))
    return Gpu(
        index=_int(v["index"]) or 0, vendor="nvidia", name=v["name"], source="nvidia-smi",
        uuid=_str(v.get("uuid")),
        vram_total_bytes=total * MIB if total is not None else None,
        vram_free_bytes=free * MIB if free is not None else None,
        driver_version=_str(v.get("driver_version")),
        compute_capability=_str(v.get("compute_cap")),
        memory_clock_max_mhz=_int(v.get("clocks.max.memory")),
        pcie=Pcie(gen, width) if gen is not None or width is not None else None,
        notes=("memory bus width unknown (nvidia-smi does not report it): no bandwidth",),
    )


def _str(value: str | None) -> str | None:
    # "[N/A]", "[Not Supported]", "[Unknown Error]" mean the metric is not available
    if value is None or not value or value.startswith("["):
        return None
    return value


def _int(value: str | None) -> int | None:
    text = _str(value)
    try:
        return int(float(text)) if text is not None else None
    except ValueError:
        return None
