"""bench/counters.py: the server's own token counters against what the streams reported."""

from __future__ import annotations

import pytest

from velollm.backends.wire import TokenCounters
from velollm.bench.counters import cross_check, mismatch
from velollm.bench.runner import Sample, ScenarioResult
from velollm.bench.suites import Scenario


def _sample(ok: bool, n: int, p: int, eval_ns: int, warmup: bool = False) -> Sample:
    return Sample("s", 0, 0, warmup, ok, None if ok else "cut", 0.1, 0.01, None, "server", None,
                  n if ok else None, p if ok else None, None, None, eval_ns if ok else None,
                  None, "length")


def _results(*samples: Sample) -> list[ScenarioResult]:
    return [ScenarioResult(Scenario("s", "x", 8), samples, ())]


BEFORE = TokenCounters(prompt_tokens=10, prompt_seconds=1.0, predicted_tokens=100,
                       predicted_seconds=4.0)


def test_counters_agree_with_every_stream_warmups_included() -> None:
    after = TokenCounters(10 + 12, 1.2, 100 + 16, 4.0 + 0.4)
    check = cross_check(BEFORE, after, _results(_sample(True, 8, 6, 200_000_000, warmup=True),
                                                _sample(True, 8, 6, 200_000_000)))
    assert check["agree"] is True and check["note"] == ""
    assert check["decode_tps"] == {"metrics": pytest.approx(40.0), "streams": 40.0}
    assert mismatch({"server_counters": check}) is None


def test_a_difference_is_reported_with_its_likely_cause() -> None:
    after = TokenCounters(10 + 12, 1.2, 100 + 30, 4.5)
    check = cross_check(BEFORE, after, _results(_sample(True, 8, 6, 200_000_000),
                                                _sample(True, 8, 6, 200_000_000)))
    assert check["agree"] is False and "another client" in check["note"]
    assert "/metrics counted 30 generated" in (mismatch({"server_counters": check}) or "")
    cut = cross_check(BEFORE, after, _results(_sample(True, 8, 6, 200_000_000),
                                              _sample(False, 0, 0, 0)))
    assert "1 request(s) failed" in cut["note"]
    restarted = cross_check(BEFORE, TokenCounters(0, 0, 8, 0.2), _results(
        _sample(True, 8, 6, 200_000_000)))
    assert "restarted" in restarted["note"]


def test_no_counters_is_said_not_guessed() -> None:
    check = cross_check(None, None, _results(_sample(True, 8, 6, 1)))
    assert check["agree"] is None and "--metrics" in check["note"]
    assert mismatch({"server_counters": check}) is None and mismatch({}) is None
