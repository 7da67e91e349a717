"""report/gains.py: the kept runs over time, and each apply's before and after."""

from __future__ import annotations

from tests.report.rundocs import benchmark_doc
from velollm.io.runs import wrap
from velollm.report.gains import before_after, timeline

SLOW = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8]
FAST = [120.0, 121.0, 119.0, 120.5, 119.5, 120.2, 119.8]


def _run(name: str, values: list[float], plan: str | None, *, model: str = "tiny",
         kind: str = "benchmark") -> tuple[str, dict]:
    applied = None if plan is None else {"plan_id": plan, "applied_at": f"at-{plan}",
                                         "settings": {}}
    doc = benchmark_doc(values, model=model, started_at=f"2026-12-01T10:00:{name}+00:00")
    return name, wrap(kind, doc, applied=applied, hardware=None)  # type: ignore[arg-type]


def test_timeline_has_one_point_per_run_and_marks_applies() -> None:
    runs = [_run("01", SLOW, None), _run("02", SLOW, None), _run("03", FAST, "p1"),
            _run("04", FAST, "p1"), _run("05", SLOW, "p2")]
    t = timeline(runs)
    assert [r["run"] for r in t["runs"]] == ["01", "02", "03", "04", "05"]
    assert [(a["run"], a["plan_id"]) for a in t["applies"]] == [("03", "p1"), ("05", "p2")]
    decode = [p for p in t["points"] if p["metric"] == "decode_tps"]
    assert [p["median"] for p in decode] == [100.0, 100.0, 120.0, 120.0, 100.0]
    assert all(p["ci_low"] <= p["median"] <= p["ci_high"] for p in decode)


def test_before_after_pairs_the_last_run_before_an_apply_with_the_latest_under_it() -> None:
    runs = [_run("01", SLOW, None), _run("02", SLOW, None, model="other"),
            _run("03", FAST, "p1"), _run("04", FAST, "p1")]
    (pair,) = before_after(runs)
    # "02" is the latest before p1 but another model: not comparable
    assert (pair["plan_id"], pair["before"], pair["after"]) == ("p1", "01", "04")
    decode = next(c for c in pair["comparison"]["comparisons"] if c["metric"] == "decode_tps")
    assert decode["status"] == "improved"


def test_no_pair_without_a_run_before_the_apply() -> None:
    assert before_after([_run("01", FAST, "p1")]) == []
    verify_only = [_run("01", SLOW, None, kind="verify")]
    assert timeline(verify_only)["runs"] == []


def test_newest_apply_first() -> None:
    runs = [_run("01", SLOW, None), _run("02", FAST, "p1"), _run("03", SLOW, "p2")]
    assert [p["plan_id"] for p in before_after(runs)] == ["p2", "p1"]
    assert before_after(runs)[0]["before"] == "02"


def test_a_verify_run_is_the_after_when_no_benchmark_ran_under_the_apply() -> None:
    baseline = _run("01", SLOW, None)
    verify = {"status": "ok", "server": {}, "settings": [],
              "benchmark": {"status": "improved", "model": "tiny",
                            "baseline_started_at": baseline[1]["document"]["started_at"],
                            "comparisons": [{"benchmark": "short_completion",
                                             "metric": "decode_tps", "before": 100.0,
                                             "after": 120.0, "ratio": 1.2, "ci_low": 1.1,
                                             "ci_high": 1.3, "status": "improved",
                                             "n_new": 7}]}}
    applied = {"plan_id": "p1", "applied_at": "at-p1", "settings": {}}
    runs = [baseline, ("02", wrap("verify", verify, applied=applied, hardware=None))]
    (pair,) = before_after(runs)
    assert (pair["source"], pair["before"], pair["after"]) == ("verify", "01", "02")
    data = pair["comparison"]
    after = [f for f in data["figures"] if f["run"] == "r2"]
    assert [(f["metric"], f["median"], f["ci_low"]) for f in after] == [
        ("decode_tps", 120.0, None)]
    assert data["comparisons"][0]["status"] == "improved"
    # a later benchmark under the same apply measures it fully: it wins
    runs.append(_run("03", FAST, "p1"))
    assert before_after(runs)[0]["source"] == "benchmark"
