"""Runs shaped for the eye: the comparison data `velollm report` draws (and prints with --json)
and the dashboard's Gains reuse. Pure: stored runs in (io/runs.py records), plain dicts out.

Every figure comes from the raw samples, never from a document's summaries: medians with a
bootstrap confidence interval of the median (seeded, so a report is reproducible from its files),
TTFT percentiles, and each later run against the first as verify compares it (bench/baseline.py).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from velollm.bench.baseline import MIN_SAMPLES, compare_documents
from velollm.core.stats import median_interval, percentile, summarize

SEED = 42
MAX_REGRESSION = 0.05  # verify's default threshold: the same verdicts as `velollm verify`
# (metric, title, unit, higher is better)
METRICS: tuple[tuple[str, str, str, bool], ...] = (
    ("decode_tps", "Decode", "tokens/s", True),
    ("prefill_tps", "Prefill", "tokens/s", True),
    ("ttft_s", "Time to first token", "s", False),
    ("aggregate_tps", "Aggregate throughput (concurrent clients)", "tokens/s", True),
)
PERCENTILES = (50, 90, 99)


def metric_values(bench: dict[str, Any], metric: str) -> list[float]:
    """The measured values of one metric: rounds for the aggregate, else the successful
    non-warm-up samples (as verify compares them)."""
    if metric == "aggregate_tps":
        rows = bench.get("rounds") or []
    else:
        rows = [s for s in bench.get("samples") or [] if s.get("ok") and not s.get("warmup")]
    return [float(r[metric]) for r in rows
            if isinstance(r, dict) and isinstance(r.get(metric), (int, float))]


def figures(values: Sequence[float], rng: random.Random) -> dict[str, Any] | None:
    """median, its 95% interval, percentiles, min and max; None without values. Below
    MIN_SAMPLES values there is no interval: a bootstrap of so few is far too narrow (as verify
    gives no verdict on them)."""
    summary = summarize(values)
    if summary is None:
        return None
    ci = median_interval(values, rng) if summary.n >= MIN_SAMPLES else None
    return {"n": summary.n, "median": summary.median, "min": summary.min, "max": summary.max,
            "ci_low": None if ci is None else ci[0], "ci_high": None if ci is None else ci[1],
            **{f"p{q}": percentile(values, q) for q in PERCENTILES}}


def comparison(runs: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """(source name, run record) pairs -> the report's data: runs, figures, comparisons."""
    rng = random.Random(SEED)
    pairs = [(describe(f"r{i + 1}", source, record), record["document"])
             for i, (source, record) in enumerate(runs)]
    shaped = [run for run, _ in pairs]
    benches = [(run, doc) for run, doc in pairs if run["run_kind"] == "benchmark"]
    rows = [{"run": run["id"], "benchmark": str(b.get("name")), "metric": metric,
             **stats}
            for run, doc in benches for b in doc.get("benchmarks") or []
            for metric, *_ in METRICS
            if (stats := figures(metric_values(b, metric), rng)) is not None]
    names = list(dict.fromkeys(str(b.get("name")) for _, doc in benches
                               for b in doc.get("benchmarks") or []))
    return {"kind": "velollm.report", "runs": shaped,
            "metrics": [{"name": m, "title": t, "unit": u, "higher_is_better": h}
                        for m, t, u, h in METRICS],
            "benchmarks": names, "figures": rows,
            "comparisons": _against_first(benches),
            "verify": [_verify(run, doc) for run, doc in pairs if run["run_kind"] == "verify"]}


def describe(run_id: str, source: str, record: dict[str, Any]) -> dict[str, Any]:
    """What a run was: when, what, where, with which settings and on which hardware."""
    doc = record["document"]
    server = _dict(doc.get("server"))
    model = doc.get("model") or _dict(doc.get("benchmark")).get("model")
    started = doc.get("started_at") or record.get("saved_at")
    return {"id": run_id, "source": source, "run_kind": record.get("run_kind"),
            "label": f"{run_id} {model or 'settings'} {str(started or '')[:16]}".strip(),
            "started_at": started, "saved_at": record.get("saved_at"), "model": model,
            "status": doc.get("status"), "partial": bool(doc.get("partial")),
            "server": {"url": server.get("url"), "version": server.get("version"),
                       "backend": server.get("backend")},
            "suite": doc.get("suite"), "summary": doc.get("summary"),
            "settings": doc.get("settings") if record.get("run_kind") == "benchmark" else None,
            "applied": record.get("applied"), "contention": doc.get("contention"),
            "hardware": hardware_summary(record.get("hardware") or doc.get("hardware"))}


def hardware_summary(hw: object) -> dict[str, Any] | None:
    """The lines of the hardware document a reader compares runs by."""
    if not isinstance(hw, dict):
        return None
    cpu, memory, system = _dict(hw.get("cpu")), _dict(hw.get("memory")), _dict(hw.get("os"))
    gpus = [g for g in hw.get("gpus") or [] if isinstance(g, dict)]
    return {"cpu": cpu.get("model"), "cores": cpu.get("physical_cores"),
            "threads": cpu.get("logical_threads"), "memory_bytes": memory.get("total_bytes"),
            "os": " ".join(str(system[k]) for k in ("release", "arch") if system.get(k)),
            "gpus": [{"name": g.get("name"), "vendor": g.get("vendor"),
                      "memory_bytes": g.get("vram_total_bytes")}
                     for g in gpus]}


def _against_first(benches: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each later benchmark run against the first, metric by metric, as verify judges it."""
    if len(benches) < 2:
        return []
    (first, reference), rest = benches[0], benches[1:]
    out = []
    for run, doc in rest:
        # Another model is compared all the same (q4 against q8 is a fair question), but said.
        other = "" if run["model"] == first["model"] else \
            f"{run['model']} against {first['model']}: another model"
        out += [{"run": run["id"], "reference": first["id"], **c.as_dict(),
                 **({"note": "; ".join(filter(None, (c.note, other)))} if other else {})}
                for c in compare_documents(reference, doc, MAX_REGRESSION)]
    return out


def _verify(run: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    bench = _dict(doc.get("benchmark"))
    return {"run": run["id"], "status": doc.get("status"),
            "settings": [s for s in doc.get("settings") or [] if isinstance(s, dict)],
            "benchmark_status": bench.get("status"),
            "baseline_started_at": bench.get("baseline_started_at"),
            "comparisons": [c for c in bench.get("comparisons") or [] if isinstance(c, dict)]}


def _dict(value: object) -> dict[str, Any]:
    """A section of a document read from a file: a dict, or empty when it is anything else."""
    return value if isinstance(value, dict) else {}
