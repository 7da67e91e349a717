"""The optimizer's search (context x parallel slots that fit) and the server values with reasons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from velollm.core import gotypes
from velollm.core.facts import Capabilities
from velollm.core.memory import Estimate, Placement, estimate, gib
from velollm.core.memory_llama import LlamaEstimate, estimate_llama, runs_llama_server
from velollm.core.models import ModelInfo
from velollm.core.optimizer_profiles import Budget, Objective

_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 6: "six", 8: "eight", 16: "sixteen"}


@dataclass(frozen=True)
class Choice:
    parallel: int
    server_ctx: int
    kv_type: str  # the server value (effective only where flash attention is)
    flash_attention: bool  # effective on this machine and version
    estimates: dict[str, Estimate]
    partial: dict[str, int]  # models that cannot fit: layers left on the CPU
    together: int  # how many of the models fit in memory at once
    unfit: frozenset[str] = frozenset()  # models that spill or cannot load (warned)


def truthy(value: Any) -> bool:
    return value is True or gotypes.parse_bool(str(value).strip()) is True


def fits_alone(est: Estimate, hw: Budget, obj: Objective, overhead: int = 0,
               spread: bool = False) -> tuple[bool, Placement]:
    if hw.cpu_only:
        place = est.fits([])
        return est.total <= hw.ram * (1 - obj.spare), place
    place = est.fits(hw.scaled(1 - obj.spare), overhead=overhead, spread=spread)
    return place.full, place


def _kv_for(model: ModelInfo, kv: str, fa: bool, caps: Capabilities) -> str:
    if not fa or model.architecture in caps.flash_attention_dropped:
        return "f16"
    return kv


def choose(obj: Objective, hw: Budget, pins: Mapping[str, Any],
           model_pins: Mapping[str, Mapping[str, Any]], models: Sequence[ModelInfo],
           caps: Capabilities, warnings: list[str]) -> Choice:
    # Ollama >= 0.30 runs llama-server, whose flash attention works on the CPU too
    runs_fa = caps.flash_attention_on_cpu if hw.cpu_only else hw.fa_supported
    fa = (runs_fa and caps.reads("flash_attention")
          and ("flash_attention" not in pins or truthy(pins["flash_attention"])))
    kv_read = caps.reads("kv_cache_type")
    kv = str(pins.get("kv_cache_type") or (obj.kv_type if fa and kv_read else "f16")).lower()
    overhead = int(pins.get("gpu_overhead") or 0)
    spread = truthy(pins.get("sched_spread", False))
    parallels = (int(pins["num_parallel"]),) if "num_parallel" in pins else obj.parallel
    contexts = (int(pins["context_length"]),) if "context_length" in pins else obj.contexts
    cands = [(p, c) for p, c in obj.candidates() if p in parallels and c in contexts] or [
        (p, c) for p in parallels for c in contexts]

    hopeless: set[str] = set()
    llama = runs_llama_server(caps)  # Ollama >= 0.30: llama-server's allocation and --fit
    # llama-server's --flash-attn auto: on where the device runs it, unless switched off
    fa_auto = runs_fa and ("flash_attention" not in pins or truthy(pins["flash_attention"]))

    def ests(p: int, c: int) -> dict[str, Estimate]:
        out: dict[str, Estimate] = {}
        for m in models:
            mp = model_pins.get(m.name, {})
            # A model that cannot fit anyway gets the smallest context: the least spill.
            want = cands[-1][1] if m.name in hopeless else c
            ctx = int(mp["num_ctx"]) if mp.get("num_ctx") not in (None, "auto") else min(
                want, m.context_length)
            batch = int(mp.get("num_batch") or obj.num_batch or 512) if not hw.cpu_only else 512
            slots = 1 if m.architecture in caps.single_slot else p
            kv_m = _kv_for(m, kv, fa and kv_read, caps)
            if llama:  # an unset num_batch is Ollama's own choice by context
                wanted = int(mp.get("num_batch") or (obj.num_batch if not hw.cpu_only else 0) or 0)
                out[m.name] = estimate_llama(m, ctx, slots, kv_m, wanted or None, fa_auto)
            else:
                out[m.name] = estimate(m, ctx, slots, kv_m, batch)
        return out

    smallest = ests(*cands[-1])
    hopeless = {n for n, e in smallest.items() if not fits_alone(e, hw, obj, overhead, spread)[0]}
    if hopeless:  # parallel slots multiply the spill of a model that does not fit
        cands = [pc for pc in cands if pc[0] == min(parallels)]
    chosen = cands[-1]
    for p, c in cands if not models or len(hopeless) < len(models) else []:
        if all(fits_alone(e, hw, obj, overhead, spread)[0]
               for n, e in ests(p, c).items() if n not in hopeless):
            chosen = (p, c)
            break
    final = ests(*chosen)
    sizing = {"num_parallel", "context_length", "kv_cache_type", "gpu_overhead"}
    pinned = bool(sizing & pins.keys()) or any(
        mp.get("num_ctx") not in (None, "auto") for mp in model_pins.values())
    partial = _warn_unfit(final, hw, obj, overhead, spread, pinned, warnings)
    together = _together(final, hw, obj, overhead, spread)
    unfit = frozenset(n for n, e in final.items()
                      if not fits_alone(e, hw, obj, overhead, spread)[0])
    return Choice(chosen[0], chosen[1], kv, fa, final, partial, together, unfit)


def _warn_unfit(final: dict[str, Estimate], hw: Budget, obj: Objective, overhead: int,
                spread: bool, pinned: bool, warnings: list[str]) -> dict[
                    str, int]:
    partial = {}
    where = f"{gib(hw.vram)} of VRAM" if hw.gpus else f"{gib(hw.ram)} of usable RAM"
    for name, est in final.items():
        ok, place = fits_alone(est, hw, obj, overhead, spread)
        if ok:
            continue
        need = f"{name} needs {gib(est.total)} at {est.num_ctx} tokens x {est.num_parallel}"
        if pinned:
            warnings.append(f"{need} with your pinned settings, more than the {where} "
                            "available: kept as pinned, expect it to spill to the CPU or fail")
        elif hw.cpu_only:
            warnings.append(f"{need}, more than the {where}: it will swap or fail to load "
                            f"({gib(hw.ram_total)} RAM in all)")
        elif place.cpu_bytes > hw.ram:
            warnings.append(f"{need}: only {place.layers} of {place.total_layers} layers fit "
                            f"in {where} and the other {gib(place.cpu_bytes)} exceed the RAM "
                            "left: it will fail to load")
        else:
            partial[name] = place.total_layers - place.layers
            warnings.append(f"{need}: only {place.layers} of {place.total_layers} layers fit "
                            f"in {where}; the rest ({gib(place.cpu_bytes)}) runs on the CPU, "
                            "several times slower")
    return partial


def _together(final: dict[str, Estimate], hw: Budget, obj: Objective, overhead: int,
              spread: bool) -> int:
    room = (hw.vram if hw.gpus else hw.ram) * (1 - obj.spare)
    count, used = 0, 0
    for est in sorted(final.values(), key=lambda e: e.total):
        ok, place = fits_alone(est, hw, obj, overhead, spread)
        size = place.vram_bytes if hw.gpus else est.total
        if not ok or used + size > room:
            break
        used += size
        count += 1
    return max(count, 1)


def _f16_kv(est: Estimate) -> int:
    """The KV cache the same settings would take in f16 (what a quantized cache saves)."""
    if isinstance(est, LlamaEstimate):
        return estimate_llama(est.model, est.num_ctx, est.num_parallel, "f16", est.batch,
                              est.settings.flash_attention).kv
    return estimate(est.model, est.num_ctx, est.num_parallel, "f16", est.batch).kv


def _biggest(choice: Choice) -> Estimate | None:
    fitting = [e for n, e in choice.estimates.items() if n not in choice.unfit]
    return max(fitting, key=lambda e: e.total, default=None)


def server_values(obj: Objective, hw: Budget, pins: Mapping[str, Any], choice: Choice,
                  caps: Capabilities, warnings: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    big = _biggest(choice)
    room = f"{gib(hw.vram)} of VRAM" if hw.gpus else f"{gib(hw.ram)} of RAM"

    def add(key: str, value: Any, reason: str, source: str = "optimizer") -> None:
        if not caps.reads(key):
            return
        if key in pins:
            # the optimizer's reason explains its own value: say so when the pin differs
            why = reason if str(pins[key]) == str(value) else f"without the pin, {reason}"
            value, reason, source = pins[key], f"pinned in velollm.yaml; {why}", "pin"
        out.append({"key": key, "value": value, "reason": reason, "source": source,
                    "scope": "server"})

    add("num_parallel", choice.parallel, _parallel_reason(choice, big, hw, room))
    add("context_length", choice.server_ctx, _ctx_reason(obj, choice, big, room, caps))
    _attention(obj, hw, choice, add, caps, warnings)
    add("keep_alive", obj.keep_alive, f"keep_alive = {obj.keep_alive}: {obj.name} profile "
        f"({obj.why})", "profile")
    names = ", ".join(choice.estimates)
    if obj.one_model:
        add("max_loaded_models", 1, "max_loaded_models = 1: low-memory keeps one model in memory",
            "profile")
    elif choice.estimates:
        add("max_loaded_models", choice.together,
            f"max_loaded_models = {choice.together}: that many of {names} fit in {room} at once")
    if obj.max_queue:
        add("max_queue", obj.max_queue, f"max_queue = {obj.max_queue}: throughput accepts bursts "
            "instead of answering HTTP 503", "profile")
    if "gpu_overhead" in pins:
        add("gpu_overhead", pins["gpu_overhead"], "counted in every fit above")
    if "sched_spread" in pins:
        add("sched_spread", pins["sched_spread"], "Ollama spreads a model over all GPUs")
    return out


def _parallel_reason(choice: Choice, big: Estimate | None, hw: Budget, room: str) -> str:
    p = choice.parallel
    if big is None and not choice.estimates:
        return (f"num_parallel = {p}: no models are listed in velollm.yaml to size it for; "
                "list them under models[] for a sized choice")
    if big is None:
        return f"num_parallel = {p}: the least memory, as no model fits fully (see warnings)"
    spare = (hw.vram if hw.gpus else hw.ram) - (
        big.fits(hw.gpus).vram_bytes if hw.gpus else big.total)
    caches = "KV caches" if p > 1 else "KV cache"
    return (f"num_parallel = {p}: {_WORDS.get(p, str(p))} {big.num_ctx}-token {caches} for "
            f"{big.model.name} ({big.kv_type}) take {gib(big.kv)}; with weights "
            f"{gib(big.weights)} the model fits in {room} with {gib(spare)} to spare")


def _ctx_reason(obj: Objective, choice: Choice, big: Estimate | None, room: str,
                caps: Capabilities) -> str:
    c = choice.server_ctx
    text = f"context_length = {c}: {obj.name} profile ({obj.why})"
    if big is not None:
        text += f"; {big.model.name} then needs {gib(big.total)} of the {room}"
    if caps.sizes_context_by_vram:
        text += f"; unset, {caps.title} would size it by VRAM up to 262144 tokens"
    return text


def _attention(obj: Objective, hw: Budget, choice: Choice, add: Any, caps: Capabilities,
               warnings: list[str]) -> None:
    if hw.cpu_only and not caps.flash_attention_on_cpu:
        why = (f"not effective on the CPU: {caps.title} {caps.version or ''} turns flash "
               "attention off without a GPU, and the KV cache stays f16").replace("  ", " ")
        add("flash_attention", None, f"flash_attention unset: {why}")
        add("kv_cache_type", None, f"kv_cache_type unset: {why}")
        return
    if not choice.flash_attention and not hw.cpu_only:
        add("flash_attention", None, "flash_attention unset: a GPU here cannot run it "
            "(CUDA compute >= 6.0 needed)")
        add("kv_cache_type", None, "kv_cache_type unset: a quantized cache needs flash attention")
        return
    if not choice.flash_attention:
        add("flash_attention", None, "flash_attention unset: pinned off")
        add("kv_cache_type", None, "kv_cache_type unset: a quantized cache needs flash attention")
        return
    where = ("the CPU (llama-server under Ollama >= 0.30 runs it there)" if hw.cpu_only
             else "these GPUs")
    add("flash_attention", True, f"flash_attention = true: faster attention on {where}, and "
        "a quantized KV cache needs it switched on explicitly")
    saved = {e.model.name: e for e in choice.estimates.values()}
    note = ""
    if saved and choice.kv_type != "f16":
        big = max(saved.values(), key=lambda e: e.kv)
        f16 = _f16_kv(big)
        note = f" ({gib(big.kv)} instead of {gib(f16)} for {big.model.name})"
    add("kv_cache_type", choice.kv_type, f"kv_cache_type = {choice.kv_type}: {obj.name} profile"
        f"{note}", "profile")
    for e in choice.estimates.values():
        if choice.kv_type != "f16" and e.kv_type == "f16":
            warnings.append(f"{e.model.name} ({e.model.architecture}): {caps.title} {caps.version} drops "
                            "flash attention for this architecture, so its KV cache stays f16")
