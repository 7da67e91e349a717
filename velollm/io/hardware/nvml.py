"""NVIDIA GPUs through NVML (nvidia-ml-py). The only module that imports pynvml.

Tests replace the module object handed to `probe()`; nothing else about NVML is faked.
Per-metric failures (NotSupported on consumer cards, vGPU, MIG) become None plus a note; a GPU that
falls off the bus (GpuIsLost) is skipped and named in the probe detail, and the others still report.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from velollm.core.hardware import Gpu, Pcie, Probe

T = TypeVar("T")
Loader = Callable[[], ModuleType]


def load_pynvml() -> ModuleType:
    import pynvml  # lazy: loading it costs time and it is useless without an NVIDIA driver

    module: ModuleType = pynvml
    return module


def bandwidth_gbps(bus_width_bits: int | None, mem_clock_max_mhz: int | None) -> float | None:
    """Theoretical peak: bus bytes x clock x 2 transfers per clock (DDR), in GB/s.

    NVML's max memory clock already folds in each memory type's quirks so the factor 2 holds:
    HBM2e/HBM3 report the real clock (H100 SXM: 5120 bit x 2619 MHz x 2 = 3352 GB/s, the spec sheet's
    3.35 TB/s), while GDDR6X (PAM4, 4 bits per clock per pin) reports half its 21 Gbps data rate
    (RTX 4090: 384 bit x 10501 MHz x 2 = 1008 GB/s, matching NVIDIA's figure).
    """
    if not bus_width_bits or not mem_clock_max_mhz:
        return None
    return round(bus_width_bits / 8 * mem_clock_max_mhz * 2 / 1000, 1)


def probe(loader: Loader = load_pynvml) -> tuple[list[Gpu], Probe]:
    try:
        nvml = loader()
    except ImportError as exc:
        return [], Probe("nvml", "absent", f"nvidia-ml-py is not installed ({exc})")
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        reason = f"nvmlInit failed: {exc}"
        if _is_absent(nvml, exc):
            return [], Probe("nvml", "absent", reason)
        return [], Probe("nvml", "error", reason)
    try:
        return _devices(nvml)
    finally:
        with contextlib.suppress(nvml.NVMLError):
            nvml.nvmlShutdown()


def _is_absent(nvml: ModuleType, exc: Exception) -> bool:
    absent = {getattr(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", 12),
              getattr(nvml, "NVML_ERROR_DRIVER_NOT_LOADED", 9)}
    return getattr(exc, "value", None) in absent


def _devices(nvml: ModuleType) -> tuple[list[Gpu], Probe]:
    try:
        count = int(nvml.nvmlDeviceGetCount())
    except nvml.NVMLError as exc:
        return [], Probe("nvml", "error", f"nvmlDeviceGetCount failed: {exc}")
    driver = _text(_safe(nvml, [], "driver", nvml.nvmlSystemGetDriverVersion))
    gpus: list[Gpu] = []
    skipped: list[str] = []
    for index in range(count):
        try:
            gpus.append(_device(nvml, index, driver))
        except nvml.NVMLError as exc:  # lost or unreadable device: keep going with the others
            skipped.append(f"GPU {index} skipped: {exc}")
    detail = "; ".join([f"{len(gpus)} of {count} GPU(s) read", *skipped])
    if count and not gpus:
        return [], Probe("nvml", "error", detail)
    return gpus, Probe("nvml", "ok", detail)


def _device(nvml: ModuleType, index: int, driver: str | None) -> Gpu:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    name = _text(nvml.nvmlDeviceGetName(handle)) or f"NVIDIA GPU {index}"
    notes: list[str] = []
    memory = _safe(nvml, notes, "memory info", nvml.nvmlDeviceGetMemoryInfo, handle)
    cc = _safe(nvml, notes, "compute capability", nvml.nvmlDeviceGetCudaComputeCapability, handle)
    bus = _safe(nvml, notes, "memory bus width", nvml.nvmlDeviceGetMemoryBusWidth, handle)
    clock = _safe(nvml, notes, "max memory clock", nvml.nvmlDeviceGetMaxClockInfo, handle,
                  nvml.NVML_CLOCK_MEM)
    gen = _safe(nvml, notes, "PCIe generation", nvml.nvmlDeviceGetMaxPcieLinkGeneration, handle)
    width = _safe(nvml, notes, "PCIe width", nvml.nvmlDeviceGetMaxPcieLinkWidth, handle)
    return Gpu(
        index=index, vendor="nvidia", name=name, source="nvml",
        uuid=_text(_safe(nvml, notes, "UUID", nvml.nvmlDeviceGetUUID, handle)),
        vram_total_bytes=int(memory.total) if memory is not None else None,
        vram_free_bytes=int(memory.free) if memory is not None else None,
        driver_version=driver,
        compute_capability=f"{cc[0]}.{cc[1]}" if cc is not None else None,
        memory_bus_width_bits=int(bus) if bus else None,
        memory_clock_max_mhz=int(clock) if clock else None,
        memory_bandwidth_gbps=bandwidth_gbps(bus, clock),
        pcie=Pcie(_int(gen), _int(width)) if gen is not None or width is not None else None,
        notes=tuple(notes),
    )


def _safe(nvml: ModuleType, notes: list[str], what: str, fn: Callable[..., T],
          *args: Any) -> T | None:
    """One metric: NotSupported and other per-metric errors read as None; a lost GPU propagates."""
    try:
        return fn(*args)
    except nvml.NVMLError as exc:
        if getattr(exc, "value", None) == getattr(nvml, "NVML_ERROR_GPU_IS_LOST", 15):
            raise
        notes.append(f"{what}: not supported" if getattr(exc, "value", None) == getattr(
            nvml, "NVML_ERROR_NOT_SUPPORTED", 3) else f"{what}: {exc}")
        return None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int) else None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):  # pynvml before 11.5 returned bytes
        return value.decode("utf-8", "replace")
    return str(value)
