"""AMD GPUs through `rocm-smi --json`, or `amd-smi --json` where only the newer tool is installed."""

from __future__ import annotations

import json
import re
from typing import Any

from velollm.core.hardware import Gpu, Probe
from velollm.io.hardware.runner import ProbeContext, ToolResult, run_tool

ROCM_SMI = ["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"]
AMD_SMI_STATIC = ["amd-smi", "static", "--asic", "--vram", "--json"]
AMD_SMI_MEM = ["amd-smi", "metric", "--mem-usage", "--json"]
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def probe_rocm_smi(ctx: ProbeContext, timeout: float) -> tuple[list[Gpu], Probe]:
    result = run_tool(ROCM_SMI, timeout=ctx.budget(timeout), which=ctx.which, env=ctx.environ)
    if result.status != "ok":
        return [], Probe("rocm-smi", result.status, result.detail)
    try:
        gpus = parse_rocm_smi(result.stdout)
    except ValueError as exc:
        return [], Probe("rocm-smi", "error", f"unreadable rocm-smi output: {exc}")
    return gpus, Probe("rocm-smi", "ok", f"{len(gpus)} GPU(s)")


def parse_rocm_smi(text: str) -> list[Gpu]:
    data = _json(text)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object keyed by card")  # noqa: TRY004
    gpus: list[Gpu] = []
    for key, raw in data.items():
        match = re.fullmatch(r"card(\d+)", key)
        if not match or not isinstance(raw, dict):
            continue  # e.g. the "system" entry
        # Key spelling changed between ROCm releases ("Card series" vs "Card Series").
        card = {k.lower(): str(v) for k, v in raw.items()}
        total = _int(card.get("vram total memory (b)"))
        used = _int(card.get("vram total used memory (b)"))
        name = card.get("card series") or card.get("card sku") or f"AMD GPU {match.group(1)}"
        gpus.append(Gpu(
            index=int(match.group(1)), vendor="amd", name=name, source="rocm-smi",
            uuid=card.get("unique id") or card.get("guid"),
            vram_total_bytes=total,
            vram_free_bytes=total - used if total is not None and used is not None else None,
            compute_capability=card.get("gfx version"),
        ))
    return gpus


def probe_amd_smi(ctx: ProbeContext, timeout: float) -> tuple[list[Gpu], Probe]:
    static = run_tool(AMD_SMI_STATIC, timeout=ctx.budget(timeout), which=ctx.which, env=ctx.environ)
    if static.status != "ok":
        return [], Probe("amd-smi", static.status, static.detail)
    mem = run_tool(AMD_SMI_MEM, timeout=ctx.budget(timeout), which=ctx.which, env=ctx.environ)
    try:
        gpus = parse_amd_smi(static.stdout, mem.stdout if mem.status == "ok" else "")
    except ValueError as exc:
        return [], Probe("amd-smi", "error", f"unreadable amd-smi output: {exc}")
    return gpus, Probe("amd-smi", "ok", _detail(gpus, mem))


def _detail(gpus: list[Gpu], mem: ToolResult) -> str:
    text = f"{len(gpus)} GPU(s)"
    return text if mem.status == "ok" else f"{text}; free VRAM unknown: {mem.detail}"


def parse_amd_smi(static_text: str, mem_text: str = "") -> list[Gpu]:
    static = _entries(_json(static_text))
    free: dict[int, int | None] = {}
    if mem_text.strip():
        for entry in _entries(_json(mem_text)):
            usage = entry.get("mem_usage") or {}
            free[int(entry.get("gpu", -1))] = _size(usage.get("free_vram"))
    gpus: list[Gpu] = []
    for entry in static:
        index = int(entry.get("gpu", len(gpus)))
        asic, vram = entry.get("asic") or {}, entry.get("vram") or {}
        bus = _int(str(vram.get("bit_width", "")))
        gpus.append(Gpu(
            index=index, vendor="amd", source="amd-smi",
            name=str(asic.get("market_name") or f"AMD GPU {index}"),
            uuid=_na(asic.get("asic_serial")),
            vram_total_bytes=_size(vram.get("size")),
            vram_free_bytes=free.get(index),
            compute_capability=_na(asic.get("target_graphics_version")),
            memory_bus_width_bits=bus,
            notes=() if index in free else ("free VRAM unknown",),
        ))
    return gpus


def _entries(data: Any) -> list[dict[str, Any]]:
    # amd-smi 24.x prints a list of per-GPU objects; 25.x wraps it as {"gpu_data": [...]}.
    if isinstance(data, dict):
        data = data.get("gpu_data", [data])
    if not isinstance(data, list):
        raise ValueError("expected a list of GPUs")  # noqa: TRY004
    return [d for d in data if isinstance(d, dict)]


def _size(value: Any) -> int | None:
    """{"value": 196592, "unit": "MB"} (newer) or "196592 MB" (older amd-smi)."""
    if isinstance(value, dict):
        number, unit = value.get("value"), str(value.get("unit", "B"))
    elif isinstance(value, str) and value.split():
        number, *rest = value.split()
        unit = rest[0] if rest else "B"
    else:
        return None
    try:
        return int(float(str(number)) * _UNITS.get(unit.upper(), 1))
    except ValueError:
        return None


def _na(value: Any) -> str | None:
    return None if value in (None, "", "N/A") else str(value)


def _json(text: str) -> Any:
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError("no JSON in the output")
    try:
        return json.loads(text[start:])  # some versions print WARNING lines before the JSON
    except json.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
