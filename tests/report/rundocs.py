"""Benchmark documents with chosen values, built by the project's own document builder (so they
follow schemas/benchmark.schema.json), for the report and dashboard tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from velollm.bench.runner import Round, Sample, ScenarioResult
from velollm.bench.suites import get_suite
from velollm.report.bench import RunInfo, build_document

HARDWARE = {"cpu": {"model": "Test CPU 9000", "physical_cores": 8, "logical_threads": 16},
            "memory": {"total_bytes": 32 * 2**30},
            "os": {"release": "Debian GNU/Linux 12", "arch": "x86_64"},
            "gpus": [{"vendor": "nvidia", "name": "RTX 4090", "vram_total_bytes": 24 * 2**30}]}


def sample(scenario: str, iteration: int, decode: float, ttft: float, prefill: float,
           *, client: int = 0, warmup: bool = False) -> Sample:
    return Sample(scenario, iteration, client, warmup, True, None, ttft + 0.1, ttft, decode,
                  "server", prefill, 32, 9, 0.0, ttft + 0.1, int(32 / decode * 1e9),
                  int(9 / prefill * 1e9), "length")


def benchmark_doc(decode: Sequence[float], *, ttft: Sequence[float] | None = None,
                  prefill: float = 500.0, started_at: str = "2026-12-01T10:00:00+00:00",
                  model: str = "tiny", scenario: str = "short_completion",
                  aggregate: Sequence[float] = ()) -> dict[str, Any]:
    """One benchmark (`scenario`) whose measured samples have these decode rates (and TTFTs),
    after one warm-up sample that must never count; `aggregate`: rounds of a concurrent one."""
    suite = get_suite("standard", iterations=max(len(decode), 1))
    chosen = next(s for s in suite.scenarios if s.name == scenario)
    ttft = ttft or [0.05] * len(decode)
    samples = [sample(scenario, -1, 1.0, 9.0, 1.0, warmup=True)]  # absurd: must be left out
    samples += [sample(scenario, i, d, t, prefill) for i, (d, t) in enumerate(zip(decode, ttft, strict=True))]
    results = [ScenarioResult(chosen, tuple(samples), ())]
    if aggregate:
        concurrent = next(s for s in suite.scenarios if s.concurrency > 1)
        results.append(ScenarioResult(
            concurrent, (sample(concurrent.name, 0, 100.0, 0.05, prefill),),
            tuple(Round(i, 1.0, int(a), a, 0) for i, a in enumerate(aggregate))))
    info = RunInfo(model, "http://127.0.0.1:11434", "0.5.4", started_at, HARDWARE,
                   {"request_options": {"temperature": 0, "seed": 42},
                    "model_parameters": "num_ctx 4096", "concurrency": 4,
                    "loaded": {"size": 2**30, "size_vram": 2**29, "context_length": 4096,
                               "expires_at": "2026-12-01T10:05:00Z"}})
    return {**build_document(info, suite, results), "contention": None}
