"""How much memory llama.cpp's llama-server allocates for one model, per device, and where --fit
puts it.

Pure. One model serves both backends that run llama-server: llama.cpp itself and Ollama >= 0.30 (older
Ollama keeps core/memory.py). The sizes per layer come from core/llama_kv.py; this module adds the
weights, places layers on the GPUs as `--fit` does (core/llama_fit.py) and explains every number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from velollm.core import llama_fit, llama_kv
from velollm.core.models import ModelInfo

MIB = 1024**2


@dataclass(frozen=True)
class LlamaSettings:
    ctx_per_slot: int
    slots: int = 1
    ubatch: int = 512
    batch: int = 2048
    type_k: str = "f16"
    type_v: str = "f16"
    flash_attention: bool = True
    gpu_layers: int | None = None  # None: placed as --fit does
    fit_target_mib: int = 1024
    kv_unified: bool = False  # one KV stream for all slots (--kv-unified, or -np unset)


@dataclass(frozen=True)
class DeviceMemory:
    device: str  # "cpu", "gpu0", ...
    weights_bytes: int
    kv_bytes: int
    compute_bytes: int
    other_bytes: int  # output/logits, recurrent state

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.compute_bytes + self.other_bytes


@dataclass(frozen=True)
class Allocation:
    model: str
    devices: tuple[DeviceMemory, ...]
    gpu_layers: int
    explain: tuple[str, ...]  # one sentence per number, for the plan
    experts_on_host: int = 0  # layers whose MoE expert tensors --fit left in host memory

    def as_rows(self) -> list[dict[str, object]]:
        """The `memory` entries of `plan --json`: one per model and device."""
        return [{"model": self.model, "device": d.device, "weights_bytes": d.weights_bytes,
                 "kv_bytes": d.kv_bytes, "compute_bytes": d.compute_bytes,
                 "other_bytes": d.other_bytes, "total_bytes": d.total_bytes} for d in self.devices]

    @property
    def total_bytes(self) -> int:
        return sum(d.total_bytes for d in self.devices)

    def device(self, name: str) -> DeviceMemory | None:
        return next((d for d in self.devices if d.device == name), None)


def mib(n: int) -> str:
    return f"{n / MIB:.1f} MiB"


def allocate(model: ModelInfo, settings: LlamaSettings,
             gpus_free_bytes: Sequence[int] = ()) -> Allocation:
    ctx = llama_kv.context(settings.ctx_per_slot, settings.slots, settings.ubatch, settings.batch,
                           settings.kv_unified)
    parts = llama_fit.Parts.of(model, ctx, settings.type_k, settings.type_v, settings.flash_attention)
    margin = settings.fit_target_mib * MIB
    placement = llama_fit.place(parts, list(gpus_free_bytes), margin, settings.gpu_layers)
    devices = llama_fit.devices(parts, placement, len(gpus_free_bytes))
    rows = tuple(DeviceMemory(name, *sizes) for name, sizes in devices)
    return Allocation(model.name, rows, placement.gpu_layers,
                      _explain(model, settings, ctx, parts, placement, rows, len(gpus_free_bytes)),
                      sum(placement.experts_on_cpu) if placement.gpu_layers else 0)


def _explain(model: ModelInfo, settings: LlamaSettings, ctx: llama_kv.Context,
             parts: llama_fit.Parts, placement: llama_fit.Placement,
             rows: tuple[DeviceMemory, ...], n_gpus: int) -> tuple[str, ...]:
    swa = sum(llama_kv.swa_layers(model))
    recurrent = sum(llama_kv.recurrent_layers(model))
    fa = "on" if settings.flash_attention else "off"
    kv = (f"KV cache {mib(sum(parts.kv))}: K {settings.type_k} and V {settings.type_v} per layer "
          "and KV head")
    if swa:
        kv += (f"; {swa} sliding-window layer(s) keep slots x (window {model.sliding_window} "
               "+ ubatch)")
    scores = "" if settings.flash_attention else ", with every head's attention scores (no FA)"
    shape = (f"{ctx.slots} slot(s) sharing one cache of {ctx.n_ctx_seq} cells"
             if ctx.n_stream == 1 < ctx.slots else f"{ctx.slots} slot(s) of {ctx.n_ctx_seq} cells")
    lines = [
        (f"{model.name}: llama-server -c {ctx.n_ctx} -np {ctx.slots} gives {shape} (padded to "
         f"256), ubatch {ctx.ubatch}, flash attention {fa}."),
        f"Weights {mib(parts.weights_total)}: the GGUF tensors, mapped from the file.",
        kv + ".",
        (f"Compute buffer {mib(parts.compute)}: the worst-case prompt graph of {ctx.ubatch} "
         f"tokens over {ctx.n_ctx_seq} cells{scores}."),
        f"Output buffer {mib(parts.output)}: logits of the vocabulary for one token per slot.",
    ]
    if recurrent:
        lines.append(f"Recurrent state {mib(sum(parts.recurrent))}: {recurrent} layer(s) x "
                     f"{ctx.slots} slot(s).")
    if n_gpus:
        lines.append(placement.reason)
    lines += [f"{row.device}: {mib(row.total_bytes)} in all." for row in rows]
    return tuple(lines)
