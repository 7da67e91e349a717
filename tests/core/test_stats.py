"""stats: plain values in, plain values out; the RNG is passed in, so verdicts reproduce."""

from __future__ import annotations

import math
import random

import pytest

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
