"""Hardware + desired state + profile + models -> Settings, each value with a reason. Pure.

Rules: user pins always win (a pin that cannot fit becomes a warning with the numbers); a knob the
detected Ollama version does not read is never set (a note says why); nothing is recommended that
real Ollama would spill to CPU or fail to load (memory.py mirrors its estimator).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from velollm.core.facts import Capabilities
from velollm.core.hardware import Hardware
from velollm.core.memory import Estimate, gib
from velollm.core.memory_rows import rows
from velollm.core.models import ModelInfo
from velollm.core.optimizer_profiles import OBJECTIVES, PROFILES, Budget, Objective, budget
from velollm.core.optimizer_values import choose, server_values

__all__ = ["AUTO", "OBJECTIVES", "DesiredInput", "Recommendation", "Settings", "recommend"]

AUTO = "auto"


@dataclass(frozen=True)
class DesiredInput:
    server: Mapping[str, Any] = field(default_factory=dict)  # knob key -> value or "auto"
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> params
    objective: str = "balanced"


@dataclass(frozen=True)
class Recommendation:
    key: str
    value: Any  # None: leave unset (Ollama's own default applies)
    reason: str
    source: Literal["pin", "optimizer", "profile"]
    scope: Literal["server", "model"]
    model: str | None = None


@dataclass(frozen=True)
class Settings:
    server: tuple[Recommendation, ...]
    models: tuple[Recommendation, ...]
    warnings: tuple[str, ...]
    offline: bool  # some estimate used the shipped table instead of a live server
    objective: str = "balanced"
    # pinned values this server version does not read: what became of each (once, not a warning)
    notes: tuple[str, ...] = ()
    # per model and device, for these settings: plan --json `memory` (core/memory_rows.py)
    memory: tuple[dict[str, object], ...] = ()

    def server_env(self) -> dict[str, Any]:
        return {r.key: r.value for r in self.server if r.value is not None}

    def model_params(self, model: str) -> dict[str, Any]:
        return {r.key: r.value for r in self.models if r.model == model and r.value is not None}

    def get(self, key: str, model: str | None = None) -> Recommendation | None:
        pool = self.server if model is None else self.models
        return next((r for r in pool if r.key == key and r.model == model), None)


def _pinned(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != AUTO}


def recommend(hardware: Hardware, desired: DesiredInput, models: Sequence[ModelInfo],
              caps: Capabilities) -> Settings:
    """`caps`: what the detected server version reads (its backend's `capabilities(version)`)."""
    if desired.objective not in PROFILES:
        raise ValueError(f"unknown objective {desired.objective!r}; one of {OBJECTIVES}")
    obj = PROFILES[desired.objective]
    pins = _pinned(desired.server)
    hw = budget(hardware, cpu_only=obj.name == "cpu-only")
    warnings: list[str] = list(hw.notes)
    plan = choose(obj, hw, pins, desired.models, models, caps, warnings)
    server = server_values(obj, hw, pins, plan, caps, warnings)
    model_recs = _model_values(obj, hw, desired.models, plan, caps)
    moved = {"context_length"} if any(r["key"] == "num_ctx" for r in model_recs) else set()
    notes = [f"{key} = {value}: {caps.why_not_read(key)}, so "
             + ("each model's num_ctx carries it instead" if key in moved
                else "velollm does not write it")
             for key, value in desired.server.items()
             if value not in (None, AUTO) and not caps.reads(key)]
    memory = tuple(row for est in plan.estimates.values()
                   for row in rows(est, hw.gpus, _num_gpu(desired.models.get(est.model.name))))
    return Settings(tuple(Recommendation(**r) for r in server),
                    tuple(Recommendation(**r) for r in model_recs), tuple(warnings),
                    any(m.offline for m in models), obj.name, tuple(notes), memory)


def _num_gpu(params: Mapping[str, Any] | None) -> int | None:
    value = (params or {}).get("num_gpu")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _model_values(obj: Objective, hw: Budget, wanted: Mapping[str, Mapping[str, Any]],
                  plan: Any, caps: Capabilities) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    ctx_read = caps.reads("context_length")
    for est in plan.estimates.values():
        name = est.model.name
        pins = _pinned(wanted.get(name, {}))

        def add(key: str, value: Any, reason: str, source: str = "optimizer",
                name: str = name, pins: dict[str, Any] = pins) -> None:
            if key in pins:
                why = reason if str(pins[key]) == str(value) else f"without the pin, {reason}"
                value, reason, source = pins[key], f"pinned in velollm.yaml ({why})", "pin"
            out.append({"key": key, "value": value, "reason": reason, "source": source,
                        "scope": "model", "model": name})

        if not ctx_read:
            add("num_ctx", est.num_ctx,
                f"num_ctx = {est.num_ctx}: {caps.why_not_read('context_length')}, so "
                f"the context goes into {name}'s parameters")
        elif est.num_ctx != plan.server_ctx:
            add("num_ctx", est.num_ctx,
                f"num_ctx = {est.num_ctx}: {_ctx_why(est, plan.server_ctx)}")
        if hw.cpu_only:
            if obj.name == "cpu-only":
                add("num_gpu", 0, "num_gpu = 0: the cpu-only profile keeps every layer on the CPU",
                    "profile")
            if hw.physical_cores:
                add("num_thread", hw.physical_cores,
                    f"num_thread = {hw.physical_cores}: one thread per physical core; "
                    "hyper-threads slow matrix work down")
        elif name in plan.partial and hw.physical_cores:
            layers = plan.partial[name]
            add("num_thread", hw.physical_cores, f"num_thread = {hw.physical_cores}: {layers} "
                f"of {est.model.block_count + 1} layers run on the CPU; one thread per core")
        if obj.num_batch and not hw.cpu_only and name not in plan.partial:
            add("num_batch", obj.num_batch,
                f"num_batch = {obj.num_batch}: bigger prompt batches for throughput; the larger "
                f"compute graph ({gib(est.graph_full)}) is counted in the fit", "profile")
        for key in pins.keys() - {r["key"] for r in out if r["model"] == name}:
            add(key, pins[key], "set by you")
    return out


def _ctx_why(est: Estimate, server_ctx: int) -> str:
    if est.num_ctx > server_ctx:  # asked for more than the server default: say what it costs
        return (f"{est.model.name} gets more than the server default of {server_ctx} tokens; "
                f"it takes {gib(est.total)} at {est.num_ctx} tokens")
    if est.num_ctx >= est.model.context_length:
        return f"{est.model.name} was trained on {est.model.context_length} tokens"
    return (f"{est.model.name} needs {gib(est.total)} at {est.num_ctx} tokens; "
            f"{server_ctx} would not fit")

