"""Typed hardware values for tests: a `Hardware` from the few facts a test is about.

Everything a test does not name gets a neutral default: no GPU, unknown RAM (0, as detect reports
a failed memory probe), unknown core count, Linux on x86_64, no Ollama installed.
(tests/cli/hwdocs.py builds the JSON documents instead, for the CLI's --hardware FILE.)
"""

from __future__ import annotations

from dataclasses import replace

from velollm.core.hardware import (
    Cpu,
    Gpu,
    GpuSource,
    Hardware,
    Memory,
    OllamaInstall,
    OsInfo,
    Vendor,
)

_SOURCE: dict[str, GpuSource] = {"nvidia": "nvml", "amd": "rocm-smi", "apple": "system_profiler"}


def gpu(vendor: Vendor = "nvidia", name: str = "gpu", vram: int | None = None, *,
        cc: str | None = None, free: int | None = None) -> Gpu:
    """`vram`: total bytes (None: unknown). Apple GPUs share the system memory."""
    return Gpu(index=0, vendor=vendor, name=name, source=_SOURCE.get(vendor, "lspci"),
               vram_total_bytes=vram, vram_free_bytes=free, unified_memory=vendor == "apple",
               compute_capability=cc)


def machine(*gpus: Gpu, ram: int = 0, cores: int | None = None, system: str = "linux",
            arch: str = "x86_64") -> Hardware:
    """`ram`: total bytes (0: unknown); the GPUs are numbered in the order given."""
    return Hardware(
        gpus=tuple(replace(g, index=i) for i, g in enumerate(gpus)),
        cpu=Cpu(model=None, arch=arch, physical_cores=cores, logical_threads=None,
                max_frequency_mhz=None),
        memory=Memory(total_bytes=ram, available_bytes=ram, swap_total_bytes=0),
        os=OsInfo(system=system, release="", kernel="", arch=arch),
        ollama=OllamaInstall(installed=False, host="http://127.0.0.1:11434"))
