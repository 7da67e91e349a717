"""Profile objectives and the memory budget of a machine, for the optimizer. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from velollm.core.hardware import Gpu as DetectedGpu
from velollm.core.hardware import Hardware
from velollm.core.memory import GIB, Gpu

OBJECTIVES = ("balanced", "throughput", "latency", "long-context", "low-memory", "cpu-only")


@dataclass(frozen=True)
class Objective:
    name: str
    parallel: tuple[int, ...]  # candidates, most wanted first
    contexts: tuple[int, ...]  # candidates, most wanted first
    prefer: str  # "ctx": keep the context, shrink parallel first; "parallel": the reverse
    kv_type: str  # wanted where flash attention is effective
    keep_alive: str
    spare: float  # share of the memory budget left free for other programs and estimate error
    max_queue: int | None = None
    num_batch: int | None = None
    one_model: bool = False
    why: str = ""

    def candidates(self) -> list[tuple[int, int]]:
        """(num_parallel, num_ctx) pairs in the order this objective prefers them."""
        if self.prefer == "ctx":
            return [(p, c) for c in self.contexts for p in self.parallel]
        return [(p, c) for p in self.parallel for c in self.contexts]


PROFILES: dict[str, Objective] = {
    "balanced": Objective("balanced", (4, 2, 1), (8192, 4096, 2048), "ctx", "q8_0", "30m", 0.10,
                          why="a useful context first, then as many parallel slots as fit"),
    "throughput": Objective("throughput", (8, 4, 2, 1), (4096, 2048), "parallel", "q8_0", "1h",
                            0.05, max_queue=1024, num_batch=1024,
                            why="as many parallel requests as fit"),
    "latency": Objective("latency", (1,), (8192, 4096, 2048), "ctx", "f16", "-1", 0.10,
                         why="one request at a time, full-precision cache, never unloaded"),
    "long-context": Objective("long-context", (1,),
                              (131072, 65536, 32768, 16384, 8192, 4096, 2048), "ctx", "q8_0",
                              "30m", 0.05, why="the longest context that fits"),
    "low-memory": Objective("low-memory", (1,), (4096, 2048), "ctx", "q4_0", "2m", 0.25,
                            one_model=True, why="the smallest footprint"),
    "cpu-only": Objective("cpu-only", (2, 1), (4096, 2048), "ctx", "f16", "30m", 0.10,
                          why="run on the CPU and leave the GPU alone"),
}


@dataclass(frozen=True)
class Budget:
    gpus: tuple[Gpu, ...]  # the full VRAM Ollama may use (per GPU)
    ram: int  # RAM velollm plans with: total minus the OS headroom
    ram_total: int
    physical_cores: int | None
    fa_supported: bool  # every GPU can run flash attention
    notes: tuple[str, ...] = ()

    @property
    def cpu_only(self) -> bool:
        return not self.gpus

    @property
    def vram(self) -> int:
        return sum(g.free_bytes for g in self.gpus)

    def scaled(self, keep: float) -> tuple[Gpu, ...]:
        return tuple(Gpu(int(g.free_bytes * keep), g.metal, g.name) for g in self.gpus)


def os_headroom(total: int) -> int:
    """RAM left to the OS and other programs: 20 %, at least 2 GiB, at most 16 GiB."""
    return int(min(max(total * 0.2, 2 * GIB), 16 * GIB))


def _fa_capable(gpu: DetectedGpu) -> bool:
    """ml.FlashAttentionSupported: Metal, ROCm, or CUDA compute >= 6.0 except 7.2 (§1.5)."""
    if gpu.vendor != "nvidia":
        return True
    cc = gpu.compute_capability
    if not cc:
        return True  # unknown: every NVIDIA card Ollama still supports is >= 5.0; most >= 6.0
    major, _, _minor = cc.partition(".")
    if not major.isdecimal():
        return True  # not a CUDA capability (the document's schema refuses one): as unknown
    return int(major) >= 6 and cc != "7.2"


def budget(hardware: Hardware, cpu_only: bool = False) -> Budget:
    gpus, notes, capable = [], [], True
    for g in hardware.gpus:
        vram = g.vram_total_bytes or g.vram_free_bytes
        if g.vendor not in ("nvidia", "amd", "apple"):
            continue
        if not vram:
            notes.append(f"{g.name}: VRAM unknown, planned as CPU-only")
            continue
        metal = g.vendor == "apple" or g.unified_memory
        gpus.append(Gpu(vram, metal, g.name or "GPU"))
        capable = capable and _fa_capable(g)
    total = hardware.memory.total_bytes  # 0: the memory probe failed (io/hardware/memory.py)
    if not total:
        notes.append("RAM size unknown: CPU memory is planned as none")
    cores = hardware.cpu.physical_cores
    return Budget(() if cpu_only else tuple(gpus), max(total - os_headroom(total), 0), total,
                  cores or None, capable and bool(gpus), tuple(notes))
