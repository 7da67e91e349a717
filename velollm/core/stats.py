"""Pure statistics for benchmarks: summaries and the baseline comparison `verify` relies on.

No I/O, no clock, no global RNG: the caller passes a seeded `random.Random`, so a verdict is
reproducible from the samples alone.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

VerdictStatus = Literal["improved", "no_regression", "regressed", "inconclusive"]


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    min: float
    max: float
    spread: float  # (max - min) / median: the relative width of what was seen

    def as_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "median": self.median, "min": self.min, "max": self.max,
                "spread": self.spread}


def summarize(values: Sequence[float]) -> Summary | None:
    """Median, min, max and relative spread; None when there is nothing to summarize."""
    clean = [v for v in values if math.isfinite(v)]
    if not clean:
        return None
    med = statistics.median(clean)
    spread = (max(clean) - min(clean)) / med if med else 0.0
    return Summary(len(clean), med, min(clean), max(clean), spread)


@dataclass(frozen=True)
class Verdict:
    """new / baseline ratio of medians with a bootstrap confidence interval.

    The ratio is oriented so that > 1 is always better (for lower-is-better metrics such as TTFT it
    is baseline / new).
    """

    status: VerdictStatus
    ratio: float
    ci_low: float
    ci_high: float
    confidence: float
    max_regression: float
    n_baseline: int
    n_new: int

    def as_dict(self) -> dict[str, float | int | str]:
        return {"status": self.status, "ratio": self.ratio, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "confidence": self.confidence,
                "max_regression": self.max_regression, "n_baseline": self.n_baseline,
                "n_new": self.n_new}


def compare(baseline: Sequence[float], new: Sequence[float], max_regression: float,
            rng: random.Random, *, higher_is_better: bool = True, resamples: int = 2000,
            confidence: float = 0.95) -> Verdict:
    """Is `new` worse than `baseline` by more than `max_regression` (a fraction, e.g. 0.05)?

    The rule: bootstrap the ratio of medians (percentile interval). "regressed" only when the whole
    interval lies below 1 - max_regression (a confirmed regression); "improved" when it lies above
    1; "no_regression" when its low end stays above the threshold; otherwise "inconclusive" (too
    few or too noisy samples to tell).
    """
    if not 0 <= max_regression < 1:
        raise ValueError(f"max_regression must be in [0, 1), got {max_regression}")
    base = [v for v in baseline if math.isfinite(v) and v > 0]
    cand = [v for v in new if math.isfinite(v) and v > 0]
    if not base or not cand:
        return Verdict("inconclusive", math.nan, math.nan, math.nan, confidence,
                       max_regression, len(base), len(cand))
    ratios = sorted(_ratio(_resample(base, rng), _resample(cand, rng), higher_is_better)
                    for _ in range(resamples))
    alpha = (1 - confidence) / 2
    low = ratios[int(alpha * (resamples - 1))]
    high = ratios[math.ceil((1 - alpha) * (resamples - 1))]
    ratio = _ratio(base, cand, higher_is_better)
    return Verdict(_status(low, high, max_regression), ratio, low, high, confidence,
                   max_regression, len(base), len(cand))


def _status(low: float, high: float, max_regression: float) -> VerdictStatus:
    threshold = 1 - max_regression
    if high < threshold:
        return "regressed"
    if low > 1:
        return "improved"
    if low >= threshold:
        return "no_regression"
    return "inconclusive"


def _resample(values: Sequence[float], rng: random.Random) -> list[float]:
    return rng.choices(values, k=len(values))


def _ratio(base: Sequence[float], new: Sequence[float], higher_is_better: bool) -> float:
    b, n = statistics.median(base), statistics.median(new)
    return n / b if higher_is_better else b / n


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's
    default), so p50 is the median; None when there is nothing to rank."""
    clean = sorted(v for v in values if math.isfinite(v))
    if not clean:
        return None
    pos = (len(clean) - 1) * min(max(q, 0.0), 100.0) / 100
    low = math.floor(pos)
    high = min(low + 1, len(clean) - 1)
    return clean[low] + (clean[high] - clean[low]) * (pos - low)


def median_interval(values: Sequence[float], rng: random.Random, *, resamples: int = 2000,
                    confidence: float = 0.95) -> tuple[float, float] | None:
    """A percentile-bootstrap confidence interval of the median (as `compare` bootstraps the
    ratio); None below two values, where resampling can only repeat the one value."""
    clean = [v for v in values if math.isfinite(v)]
    if len(clean) < 2:
        return None
    medians = sorted(statistics.median(_resample(clean, rng)) for _ in range(resamples))
    alpha = (1 - confidence) / 2
    return medians[int(alpha * (resamples - 1))], medians[math.ceil((1 - alpha) * (resamples - 1))]
