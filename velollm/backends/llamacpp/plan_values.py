"""The values optimize.recommend writes for llama-server, each with its reason: slots and context
(searched with the memory model), flash attention and KV types, batches, threads, GPU layers,
the metrics endpoint, and where it listens and what it serves (host:, models:).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from velollm.backends.llamacpp.address import split_host
from velollm.core.memory import gib
from velollm.core.models import ModelInfo
from velollm.core.optimizer_profiles import Budget, Objective

Add = Callable[..., None]
_QUANTIZED = ("q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")
_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 8: "eight"}


def _kv(pins: Mapping[str, Any], obj: Objective) -> tuple[str, str]:
    both = pins.get("kv_cache_type") or obj.kv_type
    k = str(pins.get("kv_cache_type_k") or both).lower()
    v = str(pins.get("kv_cache_type_v") or both).lower()
    return k, v


def _fa_on(pins: Mapping[str, Any], kv: tuple[str, str], hw: Budget) -> bool:
    """Flash attention is asked for unless pinned off; llama.cpp runs it on the CPU too."""
    if "flash_attention" in pins:
        return str(pins["flash_attention"]).lower() != "off"
    return hw.cpu_only or hw.fa_supported or kv[1] in _QUANTIZED


def choose_values(obj: Objective, hw: Budget, pins: Mapping[str, Any], models: list[ModelInfo],
                  server: Mapping[str, Any], add: Add, warnings: list[str], fit: Any) -> None:
    kv = _kv(pins, obj)
    fa = _fa_on(pins, kv, hw)
    if kv[1] in _QUANTIZED and not fa:
        warnings.append(f"kv_cache_type_v {kv[1]} needs flash attention, which is pinned off: "
                        "llama-server will fail to create the context")
    ubatch = int(str(pins.get("ubatch_size") or obj.num_batch or 512))
    layers = pins.get("gpu_layers")
    fixed_layers = int(str(layers)) if str(layers).isdigit() else None
    parallels = (int(str(pins["parallel"])),) if "parallel" in pins else obj.parallel
    contexts = ((int(str(pins["context_length"])),) if "context_length" in pins
                else obj.contexts)
    cands = [(p, c) for p, c in obj.candidates() if p in parallels and c in contexts] or [
        (p, c) for p in parallels for c in contexts]
    biggest = max(models, key=lambda m: m.size_bytes, default=None)
    chosen = cands[-1]
    best = None
    if biggest is not None:
        for p, c in cands:
            best = fit(biggest, p, c, kv, fa, ubatch, hw, obj, fixed_layers)
            if best.fits:
                chosen = (p, c)
                break
        else:
            best = fit(biggest, *chosen, kv, fa, ubatch, hw, obj, fixed_layers)
            where = "VRAM" if hw.gpus else "usable RAM"
            warnings.append(f"{biggest.name} needs {gib(best.need)} at {best.ctx} tokens x "
                            f"{best.parallel}, more than the {gib(best.room)} of {where}: "
                            + ("only part of it runs on the GPU, several times slower"
                               if hw.gpus and best.gpu_layers else "expect swapping or a "
                               "failed load"))
    p, c = chosen
    ctx = best.ctx if best is not None else c
    room = f"{gib(hw.vram)} of VRAM" if hw.gpus else f"{gib(hw.ram)} of RAM"
    size = (f"; {biggest.name} then needs {gib(best.need)} of the {room}"
            if best is not None and biggest is not None else "")
    caches = "KV caches" if p > 1 else "KV cache"
    add("parallel", p, f"parallel = {p}: {_WORDS.get(p, str(p))} {ctx}-token {caches}; "
        f"{obj.name} profile ({obj.why}){size}")
    trained = (f" ({biggest.name} was trained on {biggest.context_length})"
               if biggest is not None and ctx < c else "")
    add("context_length", None, f"context_length = {ctx} per slot{trained}: written as "
        f"ctx_size = {ctx} x {p} slot{'s' if p > 1 else ''}")
    add("ctx_size", ctx * p, f"ctx_size = {ctx * p}: {ctx} tokens per slot x {p} "
        f"slot{'s' if p > 1 else ''} (llama-server divides ctx_size among its slots)")
    _attention(obj, pins, kv, fa, add)
    _compute(obj, hw, ubatch, best, biggest, add, fixed_layers)
    add("metrics", True, "metrics = true: velollm verify and benchmark read /metrics to check "
        "the server's own token counts", "profile")
    _serve(server, models, add, hw, obj, fit, kv, fa, ubatch, (p, ctx))


def _attention(obj: Objective, pins: Mapping[str, Any], kv: tuple[str, str], fa: bool,
               add: Add) -> None:
    if fa:
        why = ("a quantized V cache needs it" if kv[1] in _QUANTIZED
               else "faster attention and a smaller compute buffer")
        add("flash_attention", "on", f"flash_attention = on: {why} (auto would leave it to "
            "the device, and a quantized V cache then fails where it resolves to off)")
    else:
        add("flash_attention", "off", "flash_attention = off: pinned")
    add("kv_cache_type", None, f"kv_cache_type: written as kv_cache_type_k = {kv[0]} and "
        f"kv_cache_type_v = {kv[1]}")
    asked = pins.get("kv_cache_type")
    for part, value in zip(("kv_cache_type_k", "kv_cache_type_v"), kv, strict=True):
        why = f"kv_cache_type = {asked}, as asked" if asked else f"{obj.name} profile"
        add(part, value, f"{part} = {value}: {why}"
            + ("; about half the memory of f16 per token" if value == "q8_0" else
               "; about a quarter of f16 per token" if value == "q4_0" else ""),
            "optimizer" if asked else "profile")


def _compute(obj: Objective, hw: Budget, ubatch: int, best: Any, model: ModelInfo | None,
             add: Add, fixed_layers: int | None) -> None:
    if obj.num_batch:
        add("ubatch_size", ubatch, f"ubatch_size = {ubatch}: bigger prompt batches for "
            "throughput; the larger compute buffer is counted in the fit", "profile")
    if hw.physical_cores:
        add("threads", hw.physical_cores, f"threads = {hw.physical_cores}: one per physical "
            "core; hyper-threads slow matrix work down")
    if hw.cpu_only or best is None or model is None:
        return
    total = model.block_count + 1
    if fixed_layers is None and best.gpu_layers >= total:
        add("gpu_layers", "all", f"gpu_layers = all: every layer of {model.name} fits in VRAM")
    else:
        add("gpu_layers", best.gpu_layers, f"gpu_layers = {best.gpu_layers}: {best.gpu_layers} "
            f"of {total} layers of {model.name} fit in VRAM; the rest runs on the CPU")


def _serve(server: Mapping[str, Any], models: list[ModelInfo], add: Add, hw: Budget,
           obj: Objective, fit: Any, kv: tuple[str, str], fa: bool, ubatch: int,
           slots: tuple[int, int]) -> None:
    host, port = split_host(str(server.get("host") or "127.0.0.1:8080"))
    add("listen_host", host, f"listen_host = {host}: from host:")
    add("port", port, f"port = {port}: from host:")
    entries = [e for e in server.get("models") or [] if isinstance(e, Mapping)]
    if len(entries) == 1:
        entry = entries[0]
        add("model", str(entry["path"]), "model: the one file of server.models")
        if entry.get("alias"):
            add("alias", str(entry["alias"]), "alias: from server.models")
    elif len(entries) > 1:
        from velollm.backends.llamacpp.targets import default_path

        preset = default_path("preset", Path(os.path.expanduser("~")))
        add("models_preset", str(preset), f"models_preset: {len(entries)} models run in "
            "llama-server's router mode, one preset section each")
        for e in entries:
            name = str(e.get("alias") or Path(str(e["path"])).stem)
            add("LLAMA_ARG_MODEL", str(e["path"]), "its file", model=name)
        together = _together(models, hw, obj, fit, kv, fa, ubatch, slots)
        add("models_max", together, f"models_max = {together}: that many of the models fit "
            "in memory at once")


def _together(models: list[ModelInfo], hw: Budget, obj: Objective, fit: Any,
              kv: tuple[str, str], fa: bool, ubatch: int, slots: tuple[int, int]) -> int:
    room = (hw.vram if hw.gpus else hw.ram) * (1 - obj.spare)
    used, count = 0, 0
    for m in sorted(models, key=lambda m: m.size_bytes):
        f = fit(m, slots[0], slots[1], kv, fa, ubatch, hw, obj, None)
        if not f.fits or used + f.need > room:
            break
        used, count = used + f.need, count + 1
    return max(count, 1)
