"""Figures of a load run: throughput, TTFT and inter-token latency percentiles, goodput, and
the client's self-check. Pure: the samples are timestamps the client took on arrival.

Self-check thresholds: the client is near saturation when its own CPU time reaches 85 % of the
wall time (one event loop runs on one core), or when the event loop wakes a 10 ms ticker more
than 20 ms late at the 99th percentile (arrival timestamps are then late by as much). Either
way the figures are bounded by the client, not by the server.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CPU_SATURATED = 0.85
LAG_P99_MS = 20.0


@dataclass(frozen=True)
class StreamResult:
    start: float  # monotonic, when the request was sent
    arrivals: list[float]  # monotonic arrival time of each line that carried text
    end: float
    tokens: int | None  # the server's count of generated tokens (None: not reported)
    decode_ms: float | None  # the server's own decode time
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def ttft_ms(self) -> float | None:
        return (self.arrivals[0] - self.start) * 1000 if self.arrivals else None

    @property
    def generated(self) -> int:
        return self.tokens if self.tokens is not None else len(self.arrivals)

    def gaps_ms(self) -> list[float]:
        return [(b - a) * 1000 for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LoadRun:
    label: str  # "concurrency 8", "rate 2/s"
    results: tuple[StreamResult, ...]
    wall_s: float
    client_cpu_s: float
    loop_lags_ms: tuple[float, ...]

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    @property
    def throughput(self) -> float:
        """Generated tokens per second of wall time, over every request that finished."""
        tokens = sum(r.generated for r in self.results if r.ok)
        return tokens / self.wall_s if self.wall_s > 0 else 0.0

    def ttft(self, q: float) -> float | None:
        return percentile([r.ttft_ms for r in self.results if r.ok and r.ttft_ms is not None], q)

    def itl(self, q: float) -> float | None:
        return percentile([g for r in self.results if r.ok for g in r.gaps_ms()], q)

    def goodput(self, ttft_ms: float | None, itl_ms: float | None) -> float:
        """Requests per second that met both limits (None: no limit)."""
        good = 0
        for r in self.results:
            if not r.ok or r.ttft_ms is None:
                continue
            if ttft_ms is not None and r.ttft_ms > ttft_ms:
                continue
            worst = max(r.gaps_ms(), default=0.0)
            if itl_ms is not None and worst > itl_ms:
                continue
            good += 1
        return good / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def client_cpu_share(self) -> float:
        return self.client_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def lag_p99_ms(self) -> float:
        return percentile(self.loop_lags_ms, 99) or 0.0

    def self_check(self) -> str | None:
        """Why the figures are bounded by the client (None: the client kept up)."""
        if self.client_cpu_share >= CPU_SATURATED:
            return (f"the client used {self.client_cpu_share:.0%} of a core: the figures are "
                    "bounded by the client, not the server")
        if self.lag_p99_ms >= LAG_P99_MS:
            return (f"the client's event loop ran {self.lag_p99_ms:.0f} ms late (p99): arrival "
                    "times, and the figures, are bounded by the client, not the server")
        return None

    def as_dict(self, ttft_limit_ms: float | None = None,
                itl_limit_ms: float | None = None) -> dict[str, object]:
        return {"label": self.label, "requests": len(self.results), "failed": self.failed,
                "problems": sorted({r.problem for r in self.results if r.problem})[:5],
                "wall_s": self.wall_s, "throughput_tps": self.throughput,
                "ttft_ms": {f"p{q}": self.ttft(q) for q in (50, 90, 99)},
                "itl_ms": {f"p{q}": self.itl(q) for q in (50, 90, 99)},
                "goodput_rps": self.goodput(ttft_limit_ms, itl_limit_ms),
                "client": {"cpu_share": self.client_cpu_share, "loop_lag_p99_ms":
                           self.lag_p99_ms, "bounded_by_client": self.self_check()}}
