"""Ollama >= 0.30's memory: it runs every GGUF model in llama.cpp's llama-server, so the sizes come
from core/llama_memory.py, seen through memory.Estimate so the optimizer plans both eras alike.

Pure. What changed at 0.30 (issue 12; Ollama's server/sched.go and llm/server.go): layers are
placed by llama-server's --fit with its 1024 MiB margin per GPU (OLLAMA_GPU_OVERHEAD and the
457/512 MiB reserves no longer count), an unset num_batch is Ollama's choice by context (passed as
-b and -ub), flash attention is `auto`, and there is no spare "buffer layer". Older or unknown
versions keep memory.py's re-implementation of Ollama's own estimator.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from velollm.core import llama_kv
from velollm.core.facts import Capabilities
from velollm.core.llama_memory import Allocation, LlamaSettings, allocate
from velollm.core.memory import Estimate, Gpu, Placement
from velollm.core.models import ModelInfo

LLAMA_SERVER_SINCE = (0, 30, 0)
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def runs_llama_server(caps: Capabilities) -> bool:
    """A known Ollama version >= 0.30 (an unknown one keeps the estimator the tests pin down)."""
    match = _VERSION.match(caps.version or "")
    if caps.backend != "ollama" or not match:
        return False
    return tuple(int(g or 0) for g in match.groups()) >= LLAMA_SERVER_SINCE


def ollama_batch(ctx_total: int) -> int:
    """Ollama's automatic num_batch (v0.30 automaticGenerationBatch): by the whole context."""
    return 2048 if ctx_total > 32768 else 1024 if ctx_total > 4096 else 512


@dataclass(frozen=True)
class LlamaEstimate(Estimate):
    settings: LlamaSettings = field(default_factory=lambda: LlamaSettings(2048))
    host: Allocation | None = None  # everything in host memory (the CPU-only load)

    @property
    def weights(self) -> int:
        return self.host.devices[0].weights_bytes if self.host else self.model.size_bytes

    @property
    def buffer_layer(self) -> int:
        return 0  # llama-server keeps no spare layer

    @property
    def total(self) -> int:
        return self.host.total_bytes if self.host else 0

    def allocation(self, gpus: Sequence[Gpu], num_gpu: int | None = None) -> Allocation:
        layers = num_gpu if num_gpu is not None and num_gpu >= 0 else None
        return allocate(self.model, replace(self.settings, gpu_layers=layers),
                        [g.free_bytes for g in gpus])

    def breakdown(self, gpu: Gpu | None = None, overhead: int = 0) -> dict[str, int]:  # noqa: ARG002
        host = self.host.devices[0] if self.host else None
        parts = {"weights": self.weights, "kv_cache": self.kv,
                 "graph": host.compute_bytes if host else 0, "other": host.other_bytes if host else 0}
        if gpu is not None:
            parts["fit_margin"] = self.settings.fit_target_mib * 2**20
        return parts | {"total": sum(parts.values())}

    def fits(self, gpus: Sequence[Gpu], *, overhead: int = 0, num_gpu: int | None = None,  # noqa: ARG002
             spread: bool = False) -> Placement:  # noqa: ARG002
        """Where llama-server's --fit puts the layers (OLLAMA_GPU_OVERHEAD and spread: no effect)."""
        n = self.model.block_count + 1
        if not gpus or num_gpu == 0:
            return Placement(0, n, (), self.total)
        alloc = self.allocation(gpus, num_gpu)
        per_gpu = tuple(d.total_bytes if (d := alloc.device(f"gpu{i}")) else 0
                        for i in range(len(gpus)))
        cpu = alloc.device("cpu")
        # experts left in host memory make the load partial: the slow part runs on the CPU
        layers = min(alloc.gpu_layers, n - 1) if alloc.experts_on_host else alloc.gpu_layers
        return Placement(layers, n, per_gpu, cpu.total_bytes if cpu else 0)


def estimate_llama(model: ModelInfo, num_ctx: int, num_parallel: int = 1, kv_type: str = "f16",
                   num_batch: int | None = None, flash_attention: bool = True) -> LlamaEstimate:
    num_ctx, num_parallel = max(1, num_ctx), max(1, num_parallel)
    batch = num_batch or ollama_batch(num_ctx * num_parallel)
    kv_type = kv_type.lower() or "f16"
    settings = LlamaSettings(num_ctx, num_parallel, ubatch=batch, batch=batch, type_k=kv_type,
                             type_v=kv_type, flash_attention=flash_attention)
    host = allocate(model, settings)
    ctx = llama_kv.context(num_ctx, num_parallel, batch, batch)
    cpu = host.devices[0]
    n = max(model.block_count, 1)
    return LlamaEstimate(model, num_ctx, num_parallel, kv_type, min(batch, ctx.n_ctx),
                         cpu.weights_bytes // (n + 1), cpu.weights_bytes // (n + 1),
                         llama_kv.kv_layer_bytes(model, ctx, kv_type, kv_type, flash_attention),
                         cpu.compute_bytes, cpu.compute_bytes, settings, host)
