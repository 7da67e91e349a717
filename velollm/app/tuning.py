"""`velollm tune` end to end: the workload and the backend from velollm.yaml and the flags, the
search, the side-by-side confirmation, and the pins."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from velollm.bench.tune_pipeline import DEFAULTS, RULE_BASED, run
from velollm.bench.tuner import Search
from velollm.core.tune_space import Candidate
from velollm.core.workload import Roofline, Workload, parse_duration, roofline
from velollm.errors import UsageError


@dataclass
class TuneResult:
    workload: Workload
    described: dict[str, str]
    space: dict[str, tuple[object, ...]]
    search: Search
    winner: Candidate | None
    winner_label: str | None  # "search #1", "rule-based": its entry in the confirmation
    # every candidate measured side by side: label -> (settings, scores)
    confirmation: dict[str, tuple[Candidate, list[float]]]
    # the winner, the defaults and the rule-based choice, from the confirmation
    comparison: dict[str, tuple[Candidate, list[float]]] = field(default_factory=dict)
    pins: dict[str, object] = field(default_factory=dict)  # server:
    model_pins: dict[str, dict[str, object]] = field(default_factory=dict)  # models[]: by name
    rounds: int = 0  # rounds run, the search's and the confirmation's
    roofline: Roofline | None = None
    written: tuple[str, str] | None = None  # (velollm.yaml, its backup)


def tune(args: argparse.Namespace, workdir: Path, progress: Callable[[str], None]) -> TuneResult:
    from velollm.app.facts import load_hardware
    from velollm.backends import get_backend
    from velollm.backends.base import TuneRequest, TuningUnsupported
    from velollm.config import load_config

    for name in ("trials", "rounds", "confirm_rounds"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    path = args.config or (Path("velollm.yaml") if Path("velollm.yaml").is_file() else None)
    if args.write and path is None:
        raise UsageError("--write needs a velollm.yaml", hint="give it with --config FILE")
    config = load_config(path) if path is not None else None
    backend = get_backend(args.backend or (config.backend if config else None)
                          or ("llamacpp" if args.model else None))
    if config is not None and config.backend == backend.name:
        backend = backend.for_config(config.server)
    workload = _workload(args, dict(config.raw.get("workload") or {}) if config else {})
    progress("detecting the hardware")
    request = TuneRequest(workload, load_hardware(None), workdir, args.model, args.binary,
                          tuple(m.name for m in config.models) if config else ())
    try:
        tuning = backend.tuning(request)
    except TuningUnsupported as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
    outcome = run(tuning, trials=args.trials, rounds=args.rounds,
                  confirm_rounds=args.confirm_rounds, budget_s=workload.budget_s,
                  progress=progress)
    result = TuneResult(workload, dict(tuning.described), dict(tuning.space.dimensions),
                        outcome.search, outcome.winner, outcome.winner_label,
                        outcome.confirmation, rounds=outcome.rounds)
    winner = outcome.winner
    if winner is None or outcome.search.interrupted or not outcome.confirmation:
        return result
    side_by_side = outcome.confirmation.get(outcome.winner_label or "", (winner, []))[1]
    result.comparison = {"winner": (winner, side_by_side),
                         **{k: outcome.confirmation[k] for k in (DEFAULTS, RULE_BASED)}}
    result.pins = tuning.pins(winner)
    result.model_pins = tuning.model_pins(winner)
    result.roofline = _roofline(workload, request, tuning.described, winner,
                                result.comparison["winner"][1])
    if args.write and path is not None:
        from velollm.config.pins import write_pins

        backup = write_pins(path, result.pins, models=result.model_pins)
        result.written = (str(path), str(backup))
    return result


def _roofline(workload: Workload, request: Any, described: Mapping[str, str],
              winner: Candidate, scores: list[float]) -> Roofline | None:
    """The winner against the memory-bandwidth ceiling: a GPU's bandwidth from detect, else the
    CPU's measured (a copy loop: a lower bound of what all cores reach)."""
    model = Path(described.get("model", ""))
    # a GGUF file (llama-server), else the weights' size the backend read (an Ollama model name)
    weights = model.stat().st_size if model.is_file() else int(described.get("model_bytes", 0))
    if not scores or not weights:
        return None
    gpus = [g for g in request.hardware.gpus if g.memory_bandwidth_gbps]
    if gpus:
        bandwidth, source = gpus[0].memory_bandwidth_gbps * 1e9, f"GPU 0 {gpus[0].name} (detect)"
    else:
        from velollm.io.membw import copy_bandwidth

        bandwidth, source = copy_bandwidth(), "CPU, measured by a one-thread copy"
    streams = int(winner.get("parallel", winner.get("num_parallel", 1)))  # type: ignore[call-overload]
    return roofline(workload.objective, sum(scores) / len(scores), streams, bandwidth, source,
                    weights)


def _workload(args: argparse.Namespace, declared: dict[str, Any]) -> Workload:
    base = Workload.from_config(declared)
    flags = {"concurrency": args.concurrency, "prompt_tokens": args.prompt_tokens,
             "output_tokens": args.output_tokens, "objective": args.objective,
             "ttft_limit_ms": args.ttft_limit_ms}
    for name in ("concurrency", "prompt_tokens", "output_tokens"):
        if flags[name] is not None and flags[name] < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    try:
        budget = parse_duration(args.budget) if args.budget else base.budget_s
    except ValueError as exc:
        raise UsageError(f"--budget: {exc}") from None
    workload = replace(base, budget_s=budget, **{k: v for k, v in flags.items() if v is not None})
    if workload.objective == "throughput_under_ttft" and workload.ttft_limit_ms is None:
        raise UsageError("the objective throughput_under_ttft needs a TTFT limit",
                         hint="give --ttft-limit-ms MS or workload.ttft_limit_ms")
    return workload
