"""The workload a user tunes for, and how a measured run scores against its objective. Pure.

velollm.yaml's `workload:` says what the server must do well: how many requests at once, how long
their prompts and answers are, and which figure matters. Every objective is oriented so that a
higher score is better, and every score says in words what it measured.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from velollm.errors import VelollmError

Objective = Literal["throughput", "decode_speed", "ttft_p95", "throughput_under_ttft"]
OBJECTIVES: dict[str, str] = {
    "throughput": "generated tokens per second over all concurrent requests",
    "decode_speed": "median decode tokens per second of one request",
    "ttft_p95": "95th percentile time to first token (lower is better)",
    "throughput_under_ttft": "throughput, counting only runs whose p95 TTFT meets the limit",
}


@dataclass(frozen=True)
class Workload:
    concurrency: int = 1
    prompt_tokens: int = 256
    output_tokens: int = 128
    objective: Objective = "throughput"
    ttft_limit_ms: float | None = None
    budget_s: float = 600.0
    requests_per_round: int | None = None  # None: two per concurrent client

    @property
    def per_round(self) -> int:
        return self.requests_per_round or 2 * self.concurrency

    @property
    def context_per_slot(self) -> int:
        """Room for the prompt and the answer, rounded up to 256 tokens, plus a quarter."""
        need = (self.prompt_tokens + self.output_tokens) * 5 // 4
        return -(-need // 256) * 256

    @classmethod
    def from_config(cls, data: Mapping[str, object]) -> Workload:
        """From velollm.yaml's workload: (already schema-checked: the types are right)."""
        def number(name: str, default: int) -> int:
            value = data.get(name, default)
            return value if isinstance(value, int) else default

        objective = data.get("objective", "throughput")
        limit = data.get("ttft_limit_ms")
        return cls(concurrency=number("concurrency", 1),
                   prompt_tokens=number("prompt_tokens", 256),
                   output_tokens=number("output_tokens", 128),
                   objective=objective if objective in OBJECTIVES else "throughput",  # type: ignore[arg-type]
                   ttft_limit_ms=float(limit) if isinstance(limit, (int, float)) else None,
                   budget_s=parse_duration(str(data.get("budget", "10m"))))


def parse_duration(text: str) -> float:
    """"90s", "10m", "1h", "600" -> seconds (a ValueError names a bad value)."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    t = text.strip().lower()
    scale = units.get(t[-1:], 1.0) if t else 1.0
    number = t[:-1] if t[-1:] in units else t
    value = float(number) * scale
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text!r} is not a positive duration (e.g. 90s, 10m, 1h)")
    return value


@dataclass(frozen=True)
class RequestResult:
    ttft_ms: float | None
    decode_tps: float | None  # the server's own timings
    tokens: int  # generated
    problem: str | None = None


@dataclass(frozen=True)
class Round:
    """One round of the workload: `per_round` requests, `concurrency` at a time."""

    requests: tuple[RequestResult, ...]
    wall_s: float

    @property
    def ok(self) -> list[RequestResult]:
        return [r for r in self.requests if r.problem is None]

    def throughput(self) -> float | None:
        tokens = sum(r.tokens for r in self.ok)
        return tokens / self.wall_s if self.ok and self.wall_s > 0 else None

    def ttft_p95(self) -> float | None:
        values = sorted(r.ttft_ms for r in self.ok if r.ttft_ms is not None)
        if not values:
            return None
        return values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]


def score(workload: Workload, rnd: Round) -> float | None:
    """The round's figure for the objective, higher is better; None: it measured nothing usable
    (every request failed, or more than a quarter of them did)."""
    if not rnd.ok or len(rnd.ok) * 4 < len(rnd.requests) * 3:
        return None
    if workload.objective == "throughput":
        return rnd.throughput()
    if workload.objective == "decode_speed":
        speeds = [r.decode_tps for r in rnd.ok if r.decode_tps]
        return statistics.median(speeds) if speeds else None
    p95 = rnd.ttft_p95()
    if workload.objective == "ttft_p95":
        return None if p95 is None else -p95
    if p95 is None or workload.ttft_limit_ms is None:
        return None
    throughput = rnd.throughput()
    return throughput if p95 <= workload.ttft_limit_ms and throughput is not None else 0.0


def round_score(workload: Workload, rnd: Round) -> float:
    """score(), or the error a tune candidate fails with when a round measured nothing
    usable: how many requests failed, and the first one's reason."""
    value = score(workload, rnd)
    if value is None:
        failed = [r.problem for r in rnd.requests if r.problem]
        raise VelollmError(f"{len(failed)} of {len(rnd.requests)} requests failed: "
                           f"{failed[0] if failed else '?'}")
    return value


def shown(workload: Workload, value: float | None) -> str:
    """A score in the objective's own unit."""
    if value is None:
        return "-"
    if workload.objective == "ttft_p95":
        return f"{-value:.0f} ms"
    return f"{value:.1f} t/s"


def summary(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): a t-less, honest interval: mean +- 2 standard errors (n >= 2)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = 2 * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class Roofline:
    """How close a decode figure is to the memory-bandwidth ceiling (the seed's roofline)."""

    bandwidth_bytes_s: float
    source: str  # "measured CPU copy" or "GPU 0 (detect)"
    weights_bytes: int
    per_stream_tps: float  # bandwidth / weights: every weight is read once per token
    streams: int
    achieved_tps: float
    share: float  # achieved / (per_stream x streams)


def roofline(objective: Objective, achieved: float, streams: int, bandwidth: float,
             source: str, weights_bytes: int) -> Roofline | None:
    """For the decode objectives (throughput, decode speed); None where it does not apply.

    With `streams` slots decoding together the weights are read once per step for all of them,
    so the ceiling of the aggregate is streams x the one-stream ceiling (the KV cache reads,
    ignored here, only lower it: the share is an upper bound of the headroom)."""
    if objective not in ("throughput", "decode_speed") or bandwidth <= 0 or weights_bytes <= 0:
        return None
    per_stream = bandwidth / weights_bytes
    n = streams if objective == "throughput" else 1
    return Roofline(bandwidth, source, weights_bytes, per_stream, n, achieved,
                    achieved / (per_stream * n))
