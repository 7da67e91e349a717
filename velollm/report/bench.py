"""Benchmark results as a JSON document (schemas/benchmark.schema.json) and as a console table."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velollm.bench.runner import ScenarioResult
from velollm.bench.suites import Suite
from velollm.core.stats import Summary
from velollm.output import FORMAT_VERSION
from velollm.report.layout import fit_table


@dataclass(frozen=True)
class RunInfo:
    """Everything about the run that is not a measurement."""

    model: str
    server_url: str
    server_version: str
    started_at: str
    hardware: dict[str, Any] | None
    settings: dict[str, Any]


def seed_summary(results: list[ScenarioResult]) -> dict[str, float | int | None]:
    """The original console summary: average tokens/s, average TTFT, total tokens."""
    measured = [s for r in results for s in r.measured()]
    tps = [s.decode_tps for s in measured if s.decode_tps is not None]
    ttft = [s.ttft_s for s in measured if s.ttft_s is not None]
    failed = sum(1 for r in results for s in r.samples if not s.ok and not s.warmup)
    return {
        "average_tokens_per_s": statistics.fmean(tps) if tps else None,
        "average_ttft_s": statistics.fmean(ttft) if ttft else None,
        "total_tokens": sum(s.eval_count or 0 for s in measured),
        "requests": len(measured),
        "failed_requests": failed,
    }


def _summaries(result: ScenarioResult) -> dict[str, dict[str, float | int] | None]:
    return {k: (v.as_dict() if v is not None else None) for k, v in result.summaries().items()}


def build_document(info: RunInfo, suite: Suite, results: list[ScenarioResult], *,
                   partial: bool = False) -> dict[str, Any]:
    """`partial`: the run was interrupted (^C), `benchmarks` holds what was measured until then."""
    summary = seed_summary(results)
    return {
        "format_version": FORMAT_VERSION,
        "status": "ok" if not summary["failed_requests"] else "partial",
        "partial": partial,
        "started_at": info.started_at,
        "model": info.model,
        "server": {"url": info.server_url, "version": info.server_version},
        "hardware": info.hardware,
        "settings": info.settings,
        "suite": {"name": suite.name, "iterations": suite.iterations, "warmup": suite.warmup},
        "summary": summary,
        "benchmarks": [{
            "name": r.scenario.name,
            "description": r.scenario.description,
            "num_predict": r.scenario.num_predict,
            "concurrency": r.scenario.concurrency,
            "options": r.scenario.options(),
            "summaries": _summaries(r),
            "rounds": [vars(rnd) for rnd in r.rounds],
            "samples": [s.as_dict() for s in r.samples],
        } for r in results],
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _med(summary: Summary | None, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if summary is None else _fmt(summary.median * scale, digits)


def render_table(results: list[ScenarioResult]) -> list[str]:
    header = ("benchmark", "ok", "decode tok/s", "min-max", "spread", "prefill tok/s",
              "TTFT ms", "wall ms", "aggr tok/s")
    rows = [header]
    for r in results:
        s = r.summaries()
        dec = s["decode_tps"]
        total = sum(1 for x in r.samples if not x.warmup)
        rows.append((
            r.scenario.name, f"{len(r.measured())}/{total}", _med(dec),
            "-" if dec is None else f"{dec.min:.0f}-{dec.max:.0f}",
            "-" if dec is None else f"{dec.spread:.0%}", _med(s["prefill_tps"]),
            _med(s["ttft_s"], 1000), _med(s["wall_s"], 1000), _med(s.get("aggregate_tps")),
        ))
    head, *body = fit_table(rows, right=range(1, len(header)))
    lines = [*head, *(line for row in body for line in row)]
    lines.insert(len(head), "-" * max(len(line) for line in lines))
    return lines


def render_summary(summary: dict[str, float | int | None]) -> list[str]:
    tps, ttft = summary["average_tokens_per_s"], summary["average_ttft_s"]
    lines = [f"Average tokens/s: {_fmt(None if tps is None else float(tps))}",
             f"Average TTFT:     {_fmt(None if ttft is None else float(ttft) * 1000)} ms",
             f"Total tokens:     {summary['total_tokens']}"]
    if summary["failed_requests"]:
        lines.append(f"Failed requests:  {summary['failed_requests']} (see the samples' "
                     "`error` in --json)")
    return lines


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Through fileops (the only writer): temp file, fsync, os.replace; never half a file."""
    from velollm.io.fileops import atomic_write

    path = path.expanduser()
    atomic_write(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"), 0o644)
