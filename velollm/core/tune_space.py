"""The settings `velollm tune` tries on llama-server and Ollama, and which it never runs. Pure.

A candidate is a dict of llama.cpp knob keys (velollm.yaml names: parallel, batch_size, ...).
Before any candidate is run, the memory model (core/llama_memory.py) prunes every one that would
not fit, and plain rules prune the ones llama-server would refuse or that cannot help.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from velollm.core.llama_memory import LlamaSettings, allocate
from velollm.core.memory import DEFAULT_BATCH, Gpu, estimate
from velollm.core.models import ModelInfo
from velollm.core.workload import Workload

GIB = 1024**3
Candidate = Mapping[str, object]


@dataclass(frozen=True)
class Space:
    dimensions: Mapping[str, tuple[object, ...]]  # knob key -> the values tried, in order

    def size(self) -> int:
        n = 1
        for values in self.dimensions.values():
            n *= len(values)
        return n

    def all(self) -> list[dict[str, object]]:
        """Every combination (the exhaustive sweep the benchmark compares tune against)."""
        out: list[dict[str, object]] = [{}]
        for key, values in self.dimensions.items():
            out = [{**c, key: v} for c in out for v in values]
        return out


def llama_space(workload: Workload, cores: int, gpus: int = 0) -> Space:
    """What matters for speed on llama-server, at the workload's concurrency."""
    slots = sorted({1, 2, 4, 8, 16, workload.concurrency} & set(range(1, workload.concurrency + 1)))
    threads = sorted({1, max(1, cores // 2), max(1, cores)})
    dims: dict[str, tuple[object, ...]] = {
        "parallel": tuple(slots),
        "batch_size": (512, 2048),
        "ubatch_size": (128, 512),
        "threads": tuple(threads),
        "flash_attention": ("on", "off"),
        "kv_cache_type": ("f16", "q8_0"),
    }
    if gpus:
        dims["fit_target"] = (512, 1024)
    return Space(dims)


def for_workload(candidate: Candidate, slots_key: str, concurrency: int,
                 prune: Callable[[Candidate], str | None]) -> dict[str, object]:
    """velollm's rule-based choice sized for the declared workload: one slot per concurrent
    request (the rules alone size slots for a generic load), fewer where the memory model says
    that many do not fit. When no slot count passes, what prunes it is not the slots (e.g. flash
    attention an old Ollama ignores on the CPU): one per request then."""
    for slots in range(max(1, concurrency), 0, -1):
        sized = {**candidate, slots_key: slots}
        if prune(sized) is None:
            return sized
    return {**candidate, slots_key: max(1, concurrency)}


def key(candidate: Candidate) -> str:
    """A stable name for a candidate (the same settings are measured once)."""
    return ", ".join(f"{k}={candidate[k]}" for k in sorted(candidate))


def prune(candidate: Candidate, workload: Workload, model: ModelInfo | None,
          memory_bytes: int, gpus_free: Sequence[int] = ()) -> str | None:
    """Why `candidate` is never run (None: run it)."""
    parallel = int(candidate.get("parallel", 1))  # type: ignore[call-overload]
    batch = int(candidate.get("batch_size", 2048))  # type: ignore[call-overload]
    ubatch = int(candidate.get("ubatch_size", 512))  # type: ignore[call-overload]
    fa = str(candidate.get("flash_attention", "on")) != "off"
    kv = str(candidate.get("kv_cache_type", "f16"))
    if ubatch > batch:
        return f"ubatch_size {ubatch} > batch_size {batch}: llama-server clamps it to the batch"
    if kv != "f16" and not fa:
        return f"a {kv} V cache needs flash attention; llama-server refuses to start"
    if parallel > workload.concurrency:
        return (f"{parallel} slots for {workload.concurrency} concurrent requests: idle slots "
                "only cost memory")
    if model is None:
        return None
    need = allocate(model, LlamaSettings(ctx_per_slot=workload.context_per_slot, slots=parallel,
                                         ubatch=ubatch, batch=batch, type_k=kv, type_v=kv,
                                         flash_attention=fa), gpus_free)
    host = sum(d.total_bytes for d in need.devices if d.device == "cpu")
    if host > memory_bytes:
        return (f"needs {host / GIB:.2f} GiB of memory, {memory_bytes / GIB:.2f} GiB available "
                "(memory model)")
    return None


def to_args(candidate: Candidate, workload: Workload) -> list[str]:
    """llama-server flags for a candidate (the context is per slot in velollm.yaml; -c is the
    total over the slots)."""
    if not candidate:  # the backend's defaults: only a context that holds the workload
        return ["-c", str(workload.context_per_slot * workload.concurrency)]
    parallel = int(candidate.get("parallel", 1))  # type: ignore[call-overload]
    args = ["-c", str(workload.context_per_slot * parallel), "-np", str(parallel)]
    flags = {"batch_size": "-b", "ubatch_size": "-ub", "threads": "-t",
             "flash_attention": "-fa", "fit_target": "-fitt"}
    for name, flag in flags.items():
        if name in candidate:
            args += [flag, str(candidate[name])]
    if "kv_cache_type" in candidate:
        args += ["-ctk", str(candidate["kv_cache_type"]), "-ctv", str(candidate["kv_cache_type"])]
    return args


def pins(candidate: Candidate, workload: Workload) -> dict[str, object]:
    """The candidate as velollm.yaml `server:` pins (context_length is per slot)."""
    return {"context_length": workload.context_per_slot, **dict(candidate)}


# -- Ollama ---------------------------------------------------------------------------------------
# A candidate holds server knobs (set in the environment of `ollama serve`) and model parameters
# (sent with every request in `options`); velollm.yaml pins only the server knobs.
OLLAMA_SERVER_KEYS = ("num_parallel", "flash_attention", "kv_cache_type")


def ollama_space(workload: Workload, cores: int, *, flash_attention: bool = True,
                 kv_cache_type: bool = True) -> Space:
    """What matters for speed on `ollama serve`; a knob the version does not read is left out."""
    slots = sorted({1, 2, 4, 8, 16, workload.concurrency} & set(range(1, workload.concurrency + 1)))
    dims: dict[str, tuple[object, ...]] = {
        "num_parallel": tuple(slots),
        "num_batch": (128, 512),  # Ollama's default is 512
        "num_thread": tuple(sorted({1, max(1, cores // 2), max(1, cores)})),
    }
    if flash_attention:
        dims["flash_attention"] = (True, False)
    if kv_cache_type:
        dims["kv_cache_type"] = ("f16", "q8_0")
    return Space(dims)


@dataclass(frozen=True)
class OllamaRules:
    """What the detected Ollama version and this machine allow (the backend computes it)."""

    gpus: Sequence[Gpu] = ()  # the VRAM Ollama may use, per GPU; () = CPU only
    quantized_kv_needs_gpu: bool = True  # Ollama < 0.30 keeps an f16 cache without a GPU
    flash_attention_dropped: bool = False  # this version drops it for the model's architecture


def ollama_prune(candidate: Candidate, workload: Workload, model: ModelInfo | None,
                 memory_bytes: int, rules: OllamaRules) -> str | None:
    """Why `candidate` is never run on Ollama (None: run it)."""
    parallel = int(candidate.get("num_parallel", 1))  # type: ignore[call-overload]
    fa = candidate.get("flash_attention") is True
    kv = str(candidate.get("kv_cache_type", "f16"))
    if parallel > workload.concurrency:
        return (f"{parallel} slots for {workload.concurrency} concurrent requests: idle slots "
                "only cost memory")
    if kv != "f16" and not fa:
        return f"a {kv} K/V cache needs flash attention; without it Ollama silently keeps f16"
    if kv != "f16" and not rules.gpus and rules.quantized_kv_needs_gpu:
        return (f"a {kv} K/V cache needs a GPU before Ollama 0.30: on the CPU Ollama turns flash "
                "attention off and keeps f16")
    if fa and not rules.gpus and rules.quantized_kv_needs_gpu:
        return ("Ollama before 0.30 turns flash attention off without a GPU: the same as "
                "flash_attention=false")
    if fa and rules.flash_attention_dropped:
        return ("this Ollama version drops flash attention for the model's architecture: the "
                "same as flash_attention=false")
    if model is None:
        return None
    batch = int(candidate.get("num_batch", DEFAULT_BATCH))  # type: ignore[call-overload]
    ctx = workload.context_per_slot
    place = estimate(model, ctx, parallel, kv if fa else "f16", batch).fits(rules.gpus)
    if place.cpu_bytes > memory_bytes:
        return (f"needs {place.cpu_bytes / GIB:.2f} GiB of memory, {memory_bytes / GIB:.2f} GiB "
                "available (memory model)")
    if rules.gpus and not place.full and estimate(model, ctx).fits(rules.gpus).full:
        return (f"spills {place.total_layers - place.layers} of {place.total_layers} layers to "
                "the CPU where one slot fits the GPU (memory model)")
    return None


def ollama_options(candidate: Candidate, workload: Workload) -> dict[str, object]:
    """The request `options` of a candidate: its model parameters, and the context per slot
    (Ollama sizes the cache at num_ctx x num_parallel)."""
    options: dict[str, object] = {"num_ctx": workload.context_per_slot}
    options.update({k: v for k, v in candidate.items() if k not in OLLAMA_SERVER_KEYS})
    return options


def ollama_pins(candidate: Candidate) -> dict[str, object]:
    """The candidate's server knobs as velollm.yaml `server:` pins."""
    return {k: candidate[k] for k in OLLAMA_SERVER_KEYS if k in candidate}
