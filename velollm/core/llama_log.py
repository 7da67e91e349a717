"""llama.cpp's own memory lines, read from a llama-server (or Ollama >= 0.30) log.

Pure. The lines (llama.cpp b11434..b11669, printed at log level info):
  load_tensors:   CPU_Mapped model buffer size =    92.10 MiB
  llama_context:        CPU  output buffer size =     0.38 MiB
  llama_kv_cache:        CPU KV buffer size =    90.00 MiB
  llama_memory_recurrent:        CPU RS buffer size =     1.06 MiB
  sched_reserve:        CPU compute buffer size =    16.64 MiB
  common_params_fit_impl: projected to use 198 MiB of host memory vs. 24105 MiB of total host memory
Buffer names map to devices: CPU, CPU_Mapped, CPU_REPACK, CUDA_Host, ... are host memory ("cpu");
CUDA0, ROCm1, Vulkan0, MTL0, ... are "gpu<N>".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MIB = 1024**2
_BUFFER = re.compile(r"(\S+)\s+(model|KV|RS|output|compute) buffer size =\s*([\d.]+) MiB")
_PROJECTED = re.compile(r"projected to use (\d+) MiB of (host|device) memory")
_GPU = re.compile(r"[A-Za-z]+?(\d+)$")
KINDS = ("model", "KV", "RS", "output", "compute")


@dataclass
class Buffers:
    """Bytes per device and kind, summed over every line of that kind (a model has several)."""

    by_device: dict[str, dict[str, int]] = field(default_factory=dict)
    projected_mib: int | None = None  # --fit's own projection of the total

    def get(self, device: str, kind: str) -> int:
        return self.by_device.get(device, {}).get(kind, 0)

    def total(self, device: str | None = None) -> int:
        devices = [device] if device else list(self.by_device)
        return sum(sum(self.by_device.get(d, {}).values()) for d in devices)

    @property
    def complete(self) -> bool:
        """Weights, KV or recurrent state, and the compute buffer were all reported."""
        kinds = {k for sizes in self.by_device.values() for k in sizes}
        return {"model", "compute"} <= kinds and bool(kinds & {"KV", "RS"})


def device_of(buffer_name: str) -> str:
    if buffer_name.upper().startswith("CPU") or buffer_name.endswith("_Host") or buffer_name == "Host":
        return "cpu"
    match = _GPU.match(buffer_name)
    return f"gpu{match.group(1)}" if match else buffer_name.lower()


def parse(log: str) -> Buffers:
    """The buffers of the last model load in `log` (a later load starts a new set)."""
    result = Buffers()
    for line in log.splitlines():
        projected = _PROJECTED.search(line)
        if projected:
            result.projected_mib = int(projected.group(1))
            continue
        match = _BUFFER.search(line)
        if not match:
            continue
        name, kind, size = match.groups()
        if kind == "model" and result.complete:
            result = Buffers(projected_mib=result.projected_mib)  # the model loads again
        sizes = result.by_device.setdefault(device_of(name), {})
        sizes[kind] = sizes.get(kind, 0) + round(float(size) * MIB)
    return result
