"""stats: plain values in, plain values out; the RNG is passed in, so verdicts reproduce."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from velollm.core import stats
from velollm.core.stats import compare, summarize

BASE = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8]


def test_summarize() -> None:
    s = summarize([10.0, 30.0, 20.0, math.nan])
    assert s is not None
    assert (s.n, s.median, s.min, s.max) == (3, 20.0, 10.0, 30.0)
    assert s.spread == pytest.approx(1.0)
    assert summarize([]) is None


def test_same_distribution_is_no_regression() -> None:
    v = compare(BASE, [x + 0.1 for x in BASE], 0.05, random.Random(1))
    assert v.status == "no_regression"
    assert v.ci_low <= v.ratio <= v.ci_high


def test_confirmed_regression() -> None:
    v = compare(BASE, [x * 0.8 for x in BASE], 0.05, random.Random(1))
    assert v.status == "regressed"
    assert v.ratio == pytest.approx(0.8, rel=0.01)
    assert v.ci_high < 0.95


def test_confirmed_improvement() -> None:
    v = compare(BASE, [x * 1.3 for x in BASE], 0.05, random.Random(1))
    assert v.status == "improved"
    assert v.ci_low > 1


def test_noisy_small_samples_are_inconclusive() -> None:
    v = compare([50.0, 150.0, 100.0], [40.0, 140.0, 95.0], 0.05, random.Random(1))
    assert v.status == "inconclusive"


def test_lower_is_better_metrics_are_flipped() -> None:
    ttft = [0.10, 0.11, 0.10, 0.09, 0.10]
    v = compare(ttft, [t * 2 for t in ttft], 0.05, random.Random(1), higher_is_better=False)
    assert v.status == "regressed"
    assert v.ratio == pytest.approx(0.5)


def test_seeded_rng_reproduces_the_interval() -> None:
    new = [x * 0.97 for x in BASE]
    a = compare(BASE, new, 0.05, random.Random(7))
    b = compare(BASE, new, 0.05, random.Random(7))
    assert a == b


def test_missing_samples_and_bad_threshold() -> None:
    assert compare([], BASE, 0.05, random.Random(1)).status == "inconclusive"
    with pytest.raises(ValueError, match="max_regression"):
        compare(BASE, BASE, 1.5, random.Random(1))


def test_percentile_interpolates_between_ranks_as_numpy_does() -> None:
    import numpy

    values = [5.0, 1.0, 3.0, 2.0, 4.0, 10.0]
    for q in (0, 25, 50, 90, 99, 100):
        assert stats.percentile(values, q) == pytest.approx(numpy.percentile(values, q))
    assert stats.percentile([7.0], 99) == 7.0
    assert stats.percentile([], 50) is None
    assert stats.percentile([math.nan, 2.0], 50) == 2.0


def test_median_interval_holds_the_median_and_is_seeded() -> None:
    values = [100.0, 102.0, 98.0, 101.0, 99.0, 150.0, 97.0]
    low, high = stats.median_interval(values, random.Random(1)) or (0.0, 0.0)
    assert 97.0 <= low <= statistics.median(values) <= high <= 150.0
    assert stats.median_interval(values, random.Random(1)) == (low, high)
    assert stats.median_interval([5.0], random.Random(1)) is None
