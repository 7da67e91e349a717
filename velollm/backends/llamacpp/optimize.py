"""Hardware + velollm.yaml + profile + GGUF metadata -> llama-server settings, each with a reason.

The profiles' objectives (core/optimizer_profiles.py) are shared with Ollama: their candidate
slot counts and per-slot contexts, KV type and spare share mean the same here. What the profile
files set in Ollama's names (num_parallel, flash_attention: true) is read in llama.cpp's
(parallel, flash_attention: on); Ollama-only ones (keep_alive, max_queue) have no meaning here.
The memory of each candidate comes from core/llama_memory.allocate, which places layers as
llama-server's --fit does. Pins always win; a pin that does not fit is a warning with the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from velollm.backends.llamacpp.knobdata import KNOBS, USER_ALIASES
from velollm.core.facts import Capabilities
from velollm.core.hardware import Hardware
from velollm.core.models import ModelInfo
from velollm.core.optimizer import DesiredInput, Recommendation, Settings
from velollm.core.optimizer_profiles import PROFILES, Budget, Objective, budget

# Ollama's names in the shipped profiles -> llama.cpp's.
PROFILE_NAMES = {"num_parallel": "parallel"}


@dataclass(frozen=True)
class Fit:
    parallel: int
    ctx: int  # per slot
    fits: bool
    gpu_layers: int
    need: int  # bytes on the most loaded device
    room: int  # bytes that device has for it
    explain: tuple[str, ...]


def _pins(desired: DesiredInput) -> dict[str, Any]:
    pins: dict[str, Any] = {}
    for key, value in desired.server.items():
        key = PROFILE_NAMES.get(key, key)
        if key == "flash_attention" and isinstance(value, bool):
            value = "on" if value else "off"
        if value not in (None, "auto") and (key in KNOBS or key in USER_ALIASES):
            pins[key] = value
    return pins


def _fit(model: ModelInfo, p: int, c: int, kv: tuple[str, str], fa: bool, ubatch: int,
         hw: Budget, obj: Objective, layers: int | None) -> Fit:
    from velollm.core.llama_memory import (  # type: ignore[import-untyped,unused-ignore]
        LlamaSettings,
        allocate,
    )

    gpus = [g.free_bytes for g in hw.scaled(1 - obj.spare)]
    # 0 = the trained context (per slot here; llama-server's own 0 means the total)
    ctx = min(c or model.context_length, model.context_length) if model.context_length else c
    a = allocate(model, LlamaSettings(ctx_per_slot=ctx, slots=p, ubatch=ubatch, type_k=kv[0],
                                      type_v=kv[1], flash_attention=fa, gpu_layers=layers),
                 gpus)
    cpu = a.device("cpu")
    cpu_need = cpu.total_bytes if cpu else 0
    ram = int(hw.ram * (1 - obj.spare)) if hw.cpu_only else hw.ram
    full = a.gpu_layers >= model.block_count + 1 if gpus else True
    need, room = (a.total_bytes, ram) if not gpus else (cpu_need, ram)
    for i, free in enumerate(gpus):
        d = a.device(f"gpu{i}")
        if d is not None and d.total_bytes > free:
            need, room = d.total_bytes, free
    fits = full and need <= room if gpus else a.total_bytes <= ram
    return Fit(p, ctx, fits, a.gpu_layers, need if gpus else a.total_bytes, room, a.explain)


def recommend(hardware: Hardware, desired: DesiredInput, models: Sequence[ModelInfo],
              caps: Capabilities) -> Settings:
    if desired.objective not in PROFILES:
        raise ValueError(f"unknown objective {desired.objective!r}")
    obj = PROFILES[desired.objective]
    pins = _pins(desired)
    hw = budget(hardware, cpu_only=obj.name == "cpu-only")
    warnings: list[str] = list(hw.notes)
    out: list[dict[str, Any]] = []
    notes: list[str] = []

    def add(key: str, value: Any, reason: str, source: str = "optimizer",
            model: str | None = None) -> None:
        if key in KNOBS and not caps.reads(key) and value is not None:
            if key in pins:
                notes.append(f"{key} = {pins[key]}: {caps.why_not_read(key)}, so velollm "
                             "does not write it")
            return
        if key in USER_ALIASES and key in pins:
            reason, source = f"pinned in velollm.yaml; {reason}", "pin"  # its parts carry it
        elif key in pins and model is None:
            why = reason if str(pins[key]) == str(value) else f"without the pin, {reason}"
            value, reason, source = pins[key], f"pinned in velollm.yaml; {why}", "pin"
        out.append({"key": key, "value": value, "reason": reason, "source": source,
                    "scope": "model" if model else "server", "model": model})

    from velollm.backends.llamacpp.plan_values import choose_values

    choose_values(obj, hw, pins, list(models), desired.server, add, warnings, _fit)
    for key in sorted(set(pins) - {r["key"] for r in out}):
        add(key, pins[key], f"{key} = {pins[key]}")
    return Settings(tuple(Recommendation(**r) for r in out if r["scope"] == "server"),
                    tuple(Recommendation(**r) for r in out if r["scope"] == "model"),
                    tuple(dict.fromkeys(warnings)), False, obj.name, tuple(notes),
                    _memory(models, {r["key"]: r["value"] for r in out
                                     if r["scope"] == "server"}, hw))


def _memory(models: Sequence[ModelInfo], chosen: dict[str, Any], hw: Budget
            ) -> tuple[dict[str, object], ...]:
    """plan --json `memory`: each model, per device, at the settings the plan writes."""
    from velollm.core.llama_memory import LlamaSettings, allocate

    def number(key: str, default: int) -> int:
        value = chosen.get(key)
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else default

    slots = number("parallel", 1)
    layers = chosen.get("gpu_layers")
    settings = LlamaSettings(
        ctx_per_slot=max(1, number("ctx_size", 4096 * slots) // slots), slots=slots,
        ubatch=number("ubatch_size", 512), batch=number("batch_size", 2048),
        type_k=str(chosen.get("kv_cache_type_k") or "f16"),
        type_v=str(chosen.get("kv_cache_type_v") or "f16"),
        flash_attention=chosen.get("flash_attention") != "off",
        gpu_layers=layers if isinstance(layers, int) and not isinstance(layers, bool) else None)
    gpus = [g.free_bytes for g in hw.gpus]
    return tuple(row for m in models for row in allocate(m, settings, gpus).as_rows())
