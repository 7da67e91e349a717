"""The dashboard's Gains: the kept runs over time, and before/after each apply. Pure: run records
(io/runs.py) in, plain dicts out; the figures are report/runs.py's, so a chart on the dashboard and
the same runs in `velollm report` show the same numbers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from velollm.report.runs import SEED, comparison, figures, metric_values

Named = tuple[str, dict[str, Any]]  # (file name, run record)
TIMELINE_METRICS = ("decode_tps", "prefill_tps", "ttft_s")


def _plan(record: dict[str, Any]) -> str | None:
    applied = record.get("applied")
    return str(applied.get("plan_id") or "") or None if isinstance(applied, dict) else None


def _model(record: dict[str, Any]) -> str:
    return str(record["document"].get("model") or "")


def timeline(runs: Sequence[Named]) -> dict[str, Any]:
    """One point per benchmark run, benchmark and metric (median and its interval), in time
    order, and where an apply changed the settings between two runs."""
    rng = random.Random(SEED)
    bench = [(name, rec) for name, rec in runs if rec.get("run_kind") == "benchmark"]
    shown, points, applies = [], [], []
    for i, (name, rec) in enumerate(bench):
        doc = rec["document"]
        at = doc.get("started_at") or rec.get("saved_at")
        plan = _plan(rec)
        if i > 0 and plan is not None and plan != _plan(bench[i - 1][1]):
            applies.append({"run": name, "plan_id": plan,
                            "applied_at": (rec.get("applied") or {}).get("applied_at")})
        shown.append({"run": name, "at": at, "model": _model(rec), "plan_id": plan,
                      "partial": bool(doc.get("partial"))})
        for b in doc.get("benchmarks") or []:
            for metric in TIMELINE_METRICS:
                row = figures(metric_values(b, metric), rng)
                if row is not None:
                    points.append({"run": name, "benchmark": str(b.get("name")),
                                   "metric": metric, **row})
    return {"runs": shown, "points": points, "applies": applies}


def before_after(runs: Sequence[Named]) -> list[dict[str, Any]]:
    """Per apply, newest first: the last benchmark run of the same model made before it (the
    baseline `apply --baseline` records is one) against the latest run made under it."""
    bench = [(name, rec) for name, rec in runs if rec.get("run_kind") == "benchmark"]
    out = []
    for plan in dict.fromkeys(p for _, rec in bench if (p := _plan(rec)) is not None):
        under = [i for i, (_, rec) in enumerate(bench) if _plan(rec) == plan]
        after = bench[under[-1]]
        before = next((bench[i] for i in range(under[0] - 1, -1, -1)
                       if _plan(bench[i][1]) != plan
                       and _model(bench[i][1]) == _model(after[1])), None)
        if before is None:
            continue
        applied = after[1].get("applied") or {}
        out.append({"plan_id": plan, "applied_at": applied.get("applied_at"),
                    "model": _model(after[1]), "before": before[0], "after": after[0],
                    "comparison": comparison([before, after])})
    return out[::-1]
