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
    baseline `apply --baseline` records is one) against the latest run made under it; without
    a benchmark run under it, the latest verify run's rerun against its kept baseline."""
    position = {name: i for i, (name, _) in enumerate(runs)}
    bench = [(name, rec) for name, rec in runs if rec.get("run_kind") == "benchmark"]
    pairs: dict[str, tuple[int, dict[str, Any]]] = {}
    for plan in dict.fromkeys(p for _, rec in bench if (p := _plan(rec)) is not None):
        under = [i for i, (_, rec) in enumerate(bench) if _plan(rec) == plan]
        after = bench[under[-1]]
        before = next((bench[i] for i in range(under[0] - 1, -1, -1)
                       if _plan(bench[i][1]) != plan
                       and _model(bench[i][1]) == _model(after[1])), None)
        if before is not None:
            pairs[plan] = (position[after[0]], _entry(plan, before, after, "benchmark",
                                                      comparison([before, after])))
    measured = set(pairs)
    for name, rec in runs:
        verified = _plan(rec)
        if rec.get("run_kind") == "verify" and verified is not None and verified not in measured:
            entry = _verified(verified, (name, rec), bench)
            if entry is not None:
                pairs[verified] = (position[name], entry)
    return [entry for _, entry in sorted(pairs.values(), key=lambda p: p[0], reverse=True)]


def _entry(plan: str, before: Named, after: Named, source: str,
           data: dict[str, Any]) -> dict[str, Any]:
    applied = after[1].get("applied") or {}
    return {"plan_id": plan, "applied_at": applied.get("applied_at"), "source": source,
            "model": data["runs"][0]["model"], "before": before[0], "after": after[0],
            "comparison": data}


def _verified(plan: str, run: Named, bench: list[Named]) -> dict[str, Any] | None:
    """verify's benchmark against the baseline as a before/after: the baseline's own figures
    (it is kept as a benchmark run), the rerun's medians (verify keeps no samples) and verify's
    verdicts with their intervals."""
    measured = run[1]["document"].get("benchmark")
    comparisons = [c for c in (measured or {}).get("comparisons") or [] if isinstance(c, dict)]
    if not isinstance(measured, dict) or not comparisons:
        return None
    baseline = next((b for b in reversed(bench) if b[1]["document"].get("started_at")
                     == measured.get("baseline_started_at")), None)
    if baseline is None:  # recorded before velollm kept runs
        return None
    data = comparison([baseline, run])
    data["figures"] += [{"run": "r2", "benchmark": c.get("benchmark"), "metric": c.get("metric"),
                         "n": c.get("n_new"), "median": c["after"], "ci_low": None,
                         "ci_high": None, **dict.fromkeys(("p50", "p90", "p99", "min", "max"))}
                        for c in comparisons if isinstance(c.get("after"), (int, float))]
    data["comparisons"] = [{"run": "r2", "reference": "r1", **c} for c in comparisons]
    return _entry(plan, baseline, run, "verify", data)
