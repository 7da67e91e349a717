"""The benchmark baseline `apply --baseline` records and `verify` compares against.

The baseline is an ordinary benchmark document (schemas/benchmark.schema.json) saved as
<state dir>/baseline.json, so `velollm benchmark --out` output can serve as one too. Comparing two
documents (`compare_documents`) is pure: it reads the raw samples, never the summaries, so the
bootstrap works on what was measured.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from velollm.backends.wire import RunningModel, ServerClient
from velollm.bench import runner, suites
from velollm.core.contention import Ticks, contention
from velollm.core.stats import Verdict, compare, summarize
from velollm.errors import ConfigError, VelollmError
from velollm.io import contention as contention_io
from velollm.io.fileops import atomic_write
from velollm.io.xdg import state_dir
from velollm.report import bench as report

BASELINE_FILE = "baseline.json"
COMPARE_SEED = 42  # a verdict is reproducible from the two documents alone
# Below this many values a side, a percentile bootstrap of the median sees only a handful of
# distinct resamples and its interval is far too narrow: a noisy run on a busy machine would read
# as a "confirmed" change. Fewer samples give "inconclusive", never a verdict.
MIN_SAMPLES = 5
# (metric, higher is better, gates the verdict). Prefill is shown but does not gate: Ollama 0.5.4
# reports prompt_eval_duration in whole milliseconds, too coarse for short prompts.
METRICS: tuple[tuple[str, bool, bool], ...] = (
    ("decode_tps", True, True),
    ("aggregate_tps", True, True),
    ("ttft_s", False, True),
    ("prefill_tps", True, False),
)


def baseline_path(out_dir: Path | None = None) -> Path:
    return (out_dir or state_dir()) / BASELINE_FILE


@dataclass(frozen=True)
class Measurement:
    """One run of a suite: the results (for the console table) and the benchmark document."""

    results: list[runner.ScenarioResult]
    document: dict[str, Any]


class BenchmarkInterrupted(KeyboardInterrupt):
    """^C during a run: `measurement` holds what was measured, its document marked partial."""

    def __init__(self, measurement: Measurement) -> None:
        super().__init__()
        self.measurement = measurement


class BenchmarkStopped(VelollmError):
    """The run ended early (a server fault, the run's deadline): the error says why, in the
    server's words; `measurement` holds what was measured, its document marked partial."""

    def __init__(self, measurement: Measurement, error: VelollmError) -> None:
        super().__init__(error.message, hint=error.hint)
        self.measurement = measurement
        self.error = error


def run_benchmark(client: ServerClient, model: str, suite: suites.Suite, *,
                  version: str | None = None,
                  hardware: Callable[[], dict[str, Any] | None] = lambda: None,
                  progress: runner.Progress | None = None) -> Measurement:
    """Run `suite` on the server: `velollm benchmark`, the baseline and verify's rerun all do.

    `hardware` is called once the run is over, so it sees the machine with the model loaded
    (not after ^C, which raises BenchmarkInterrupted with what was measured).
    """
    version = client.version() if version is None else version
    details = client.show(model)  # a clear 404 before any timing starts
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    pid = client.server_pid()
    before = contention_io.ticks(pid)
    try:
        results = runner.run_suite(client, client.another, model, suite,
                                   progress=progress)
    except runner.Interrupted as exc:
        busy = _contention(before, pid)
        info = report.RunInfo(model, client.base_url, version, started, None,
                              run_settings(client, model, details.parameters, suite))
        raise BenchmarkInterrupted(Measurement(exc.results, {**report.build_document(
            info, suite, exc.results, partial=True), "contention": busy})) from None
    except runner.Stopped as exc:  # the server is not asked again: it just misbehaved
        info = report.RunInfo(model, client.base_url, version, started, None,
                              _settings(details.parameters, suite, None))
        document = {**report.build_document(info, suite, exc.results, partial=True),
                    "contention": _contention(before, pid), "stopped": exc.error.message}
        raise BenchmarkStopped(Measurement(exc.results, document), exc.error) from None
    busy = _contention(before, pid)
    info = report.RunInfo(model, client.base_url, version, started, hardware(),
                          run_settings(client, model, details.parameters, suite))
    return Measurement(results, {**report.build_document(info, suite, results),
                                 "contention": busy})


def _contention(before: Ticks | None, pid: int | None) -> dict[str, Any] | None:
    """What else used the CPUs during the run (core/contention.py); None without /proc."""
    after = contention_io.ticks(pid)
    if before is None or after is None:
        return None
    return contention(before, after, os.cpu_count() or 1, pid)


def run_settings(client: ServerClient, model: str, parameters: str,
                 suite: suites.Suite) -> dict[str, Any]:
    """The document's `settings`: what was in force while the suite ran."""
    loaded = next((m for m in client.ps() if m.name in (model, f"{model}:latest")), None)
    return _settings(parameters, suite, loaded)


def _settings(parameters: str, suite: suites.Suite,
              loaded: RunningModel | None) -> dict[str, Any]:
    return {
        # Runner options (num_ctx, num_batch, num_thread, num_gpu) are never sent: what is in force
        # is the server's and the Modelfile's, held constant for every request.
        "request_options": {"temperature": 0, "seed": suites.SEED},
        "model_parameters": parameters,
        "loaded": None if loaded is None else {
            "size": loaded.size, "size_vram": loaded.size_vram,
            "context_length": loaded.context_length, "expires_at": loaded.expires_at},
        "concurrency": max(s.concurrency for s in suite.scenarios),
    }


def measure(client: ServerClient, model: str, suite: suites.Suite, *,
            progress: runner.Progress | None = None, version: str | None = None
            ) -> dict[str, Any]:
    """Run `suite` on the server and return the benchmark document (no hardware section);
    `version`: the server's, when the caller already asked it."""
    return run_benchmark(client, model, suite, progress=progress, version=version).document


def record_baseline(client: ServerClient, model: str, *, suite: str = "quick",
                    iterations: int = MIN_SAMPLES, out_dir: Path | None = None,
                    progress: runner.Progress | None = None) -> Path:
    """Benchmark the server as it runs now and save the document atomically; returns its path.
    Nothing is saved when the run is interrupted: a partial baseline would compare less."""
    document = measure(client, model, suites.get_suite(suite, iterations=iterations),
                       progress=progress)
    path = baseline_path(out_dir)
    atomic_write(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
    return path


MAX_BASELINE_BYTES = 16 * 1024 * 1024  # a document of many long runs is a few hundred KiB


def load_baseline(path: Path | None = None) -> dict[str, Any] | None:
    """The baseline document; None when there is none. A damaged file is a ConfigError."""
    from velollm.io.inputfile import load_json, read_capped

    path = path or baseline_path()
    if not path.exists() and not path.is_symlink():
        return None
    hint = "record a new one with `velollm apply --baseline`"
    raw = read_capped(path, max_bytes=MAX_BASELINE_BYTES, what="a benchmark document", hint=hint)
    doc = load_json(raw, path, what="a benchmark document", max_depth=16, hint=hint)
    if not (isinstance(doc, dict) and isinstance(doc.get("model"), str)
            and isinstance(doc.get("benchmarks"), list) and isinstance(doc.get("suite"), dict)):
        raise ConfigError(f"{path} is not a velollm benchmark document (no model, suite or "
                          "benchmarks)", path=str(path),
                          hint="use a file written by `velollm benchmark --out` or "
                               "`velollm apply --baseline`")
    return doc


def suite_of(baseline: dict[str, Any], iterations: int | None) -> suites.Suite:
    """The suite the baseline ran, with the same concurrency, for a like-for-like rerun."""
    name = str(baseline["suite"].get("name", "quick"))
    concurrency = max([int(b.get("concurrency") or 1) for b in baseline["benchmarks"]] or [1])
    return suites.get_suite(name, iterations=iterations, concurrency=max(concurrency, 1))


@dataclass(frozen=True)
class MetricComparison:
    benchmark: str
    metric: str
    before: float | None  # medians
    after: float | None
    verdict: Verdict
    gating: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "metric": self.metric, "before": self.before,
                "after": self.after, "gating": self.gating, **self.verdict.as_dict(),
                "note": self.note}


def _values(bench: dict[str, Any], metric: str) -> list[float]:
    if metric == "aggregate_tps":
        rows = bench.get("rounds") or []
    else:
        rows = [s for s in bench.get("samples") or [] if s.get("ok") and not s.get("warmup")]
    return [float(r[metric]) for r in rows if isinstance(r.get(metric), (int, float))]


def compare_documents(before: dict[str, Any], after: dict[str, Any],
                      max_regression: float) -> list[MetricComparison]:
    """Every metric of every benchmark present in both documents, with its verdict."""
    rng = random.Random(COMPARE_SEED)
    after_by_name = {b.get("name"): b for b in after.get("benchmarks") or []}
    out = []
    for old in before.get("benchmarks") or []:
        new = after_by_name.get(old.get("name"))
        if new is None:
            continue
        for metric, higher, gating in METRICS:
            base, cand = _values(old, metric), _values(new, metric)
            if not base and not cand:
                continue
            b, a = summarize(base), summarize(cand)
            verdict = compare(base, cand, max_regression, rng, higher_is_better=higher)
            note = ""
            if min(len(base), len(cand)) < MIN_SAMPLES and verdict.status != "inconclusive":
                note = (f"{min(len(base), len(cand))} samples: at least {MIN_SAMPLES} a side "
                        "are needed for a verdict")
                verdict = replace(verdict, status="inconclusive")
            out.append(MetricComparison(str(old.get("name")), metric,
                                        None if b is None else b.median,
                                        None if a is None else a.median, verdict, gating, note))
    return out


def overall(comparisons: list[MetricComparison]) -> str:
    """regressed when a gating metric's regression is confirmed; else inconclusive when nothing
    could be compared or any gating verdict is unsure; else improved when one improved."""
    gating = [c.verdict.status for c in comparisons if c.gating]
    if "regressed" in gating:
        return "regressed"
    if not gating or "inconclusive" in gating:
        return "inconclusive"
    return "improved" if "improved" in gating else "no_regression"
