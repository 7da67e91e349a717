"""report/runs.py: runs in, the figures the report draws out, all from the raw samples."""

from __future__ import annotations

import random
import statistics

import pytest

from tests.report.rundocs import benchmark_doc
from velollm.io.runs import wrap
from velollm.report.runs import comparison, figures, metric_values

SLOW = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8]
FAST = [120.0, 121.0, 119.0, 120.5, 119.5, 120.2, 119.8]


def _run(doc: dict, kind: str = "benchmark") -> dict:
    return wrap(kind, doc, applied=None, hardware=doc.get("hardware"))  # type: ignore[arg-type]


def _figure(data: dict, run: str, metric: str, bench: str = "short_completion") -> dict:
    (row,) = [f for f in data["figures"]
              if (f["run"], f["metric"], f["benchmark"]) == (run, metric, bench)]
    return row


def test_warmups_never_count_and_percentiles_come_from_the_samples() -> None:
    doc = benchmark_doc(SLOW, ttft=[0.01 * (i + 1) for i in range(7)])
    bench = doc["benchmarks"][0]
    assert metric_values(bench, "decode_tps") == SLOW  # the warm-up's 1.0 left out
    data = comparison([("a.json", _run(doc))])
    decode = _figure(data, "r1", "decode_tps")
    assert decode["n"] == 7
    assert decode["median"] == statistics.median(SLOW)
    assert decode["ci_low"] <= decode["median"] <= decode["ci_high"]
    ttft = _figure(data, "r1", "ttft_s")
    assert ttft["p50"] == pytest.approx(0.04)
    assert ttft["p90"] == pytest.approx(0.064)
    assert ttft["p99"] == pytest.approx(0.0694)
    assert (ttft["min"], ttft["max"]) == (pytest.approx(0.01), pytest.approx(0.07))


def test_no_interval_below_five_samples() -> None:
    row = figures([10.0, 11.0, 12.0], random.Random(0))
    assert row is not None
    assert row["median"] == 11.0
    assert (row["ci_low"], row["ci_high"]) == (None, None)
    assert figures([], random.Random(0)) is None


def test_later_runs_are_judged_against_the_first_as_verify_does() -> None:
    before = benchmark_doc(SLOW, started_at="2026-12-01T10:00:00+00:00")
    after = benchmark_doc(FAST, started_at="2026-12-02T10:00:00+00:00")
    data = comparison([("before.json", _run(before)), ("after.json", _run(after))])
    assert [r["id"] for r in data["runs"]] == ["r1", "r2"]
    assert data["benchmarks"] == ["short_completion"]
    decode = next(c for c in data["comparisons"] if c["metric"] == "decode_tps")
    assert (decode["run"], decode["reference"]) == ("r2", "r1")
    assert decode["status"] == "improved"
    assert decode["ratio"] == pytest.approx(statistics.median(FAST) / statistics.median(SLOW))
    assert decode["ci_low"] > 1


def test_runs_carry_their_settings_and_hardware() -> None:
    data = comparison([("a.json", _run(benchmark_doc(SLOW)))])
    (run,) = data["runs"]
    assert run["model"] == "tiny"
    assert run["settings"]["model_parameters"] == "num_ctx 4096"
    assert run["hardware"]["cpu"] == "Test CPU 9000"
    assert run["hardware"]["gpus"] == [{"name": "RTX 4090", "vendor": "nvidia",
                                        "memory_bytes": 24 * 2**30}]
    assert run["server"]["version"] == "0.5.4"


def test_aggregate_throughput_comes_from_the_rounds() -> None:
    data = comparison([("a.json", _run(benchmark_doc(SLOW, aggregate=[300.0, 310.0, 290.0])))])
    (row,) = [f for f in data["figures"] if f["metric"] == "aggregate_tps"]
    assert (row["benchmark"], row["median"], row["n"]) == ("concurrent", 300.0, 3)


def test_verify_runs_keep_their_settings_and_comparisons() -> None:
    verify = {"status": "ok", "server": {"url": "http://h:1", "version": "0.5.4"},
              "settings": [{"env": "OLLAMA_NUM_PARALLEL", "wanted": "4", "observed": "4",
                            "status": "effective", "why": ""}],
              "benchmark": {"status": "no_regression", "model": "tiny",
                            "baseline_started_at": "2026-12-01T10:00:00+00:00",
                            "comparisons": [{"benchmark": "short_completion",
                                             "metric": "decode_tps", "ratio": 1.01}]}}
    data = comparison([("v.json", _run(verify, "verify"))])
    assert data["figures"] == [] and data["comparisons"] == []
    (v,) = data["verify"]
    assert v["benchmark_status"] == "no_regression"
    assert v["settings"][0]["env"] == "OLLAMA_NUM_PARALLEL"
    assert data["runs"][0]["model"] == "tiny"


def test_another_model_is_compared_and_said() -> None:
    data = comparison([("a.json", _run(benchmark_doc(SLOW))),
                       ("b.json", _run(benchmark_doc(FAST, model="tiny-q8")))])
    decode = next(c for c in data["comparisons"] if c["metric"] == "decode_tps")
    assert decode["note"] == "tiny-q8 against tiny: another model"
    same = comparison([("a.json", _run(benchmark_doc(SLOW))),
                       ("b.json", _run(benchmark_doc(FAST)))])
    assert all(c["note"] == "" for c in same["comparisons"])
