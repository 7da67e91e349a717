"""Run a suite against a real server: one streamed request per sample, timed on the client.

The I/O edge of the benchmark. A request that fails in a way the benchmark can report (a stream cut
or aborted, HTTP 503 "server busy") becomes a failed Sample; a server that is gone or a model that
does not exist stops the run with the client's error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from velollm.backends.wire import Done, GenerationError, Metrics, ServerClient, Token
from velollm.bench.suites import Scenario, Suite
from velollm.core.stats import Summary, summarize
from velollm.errors import ServerResponseError

Clock = Callable[[], float]
Progress = Callable[[int, int, str], None]
NS = 1e9
# Statuses that describe one request, not the server: recorded, and the run goes on.
_SAMPLE_LEVEL_STATUSES = {429, 500, 503}


@dataclass(frozen=True)
class Sample:
    scenario: str
    iteration: int  # 0-based among measured runs; negative for warm-up runs
    client: int
    warmup: bool
    ok: bool
    error: str | None
    wall_s: float
    ttft_s: float | None  # request sent -> first non-empty streamed text, on the client
    decode_tps: float | None
    decode_source: str | None  # "server" (eval_count/eval_duration) or "client" (stream timing)
    prefill_tps: float | None
    eval_count: int | None
    prompt_eval_count: int | None
    load_s: float | None
    total_s: float | None  # the server's total_duration
    eval_duration_ns: int | None
    prompt_eval_duration_ns: int | None
    done_reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Round:
    """One iteration of a concurrent scenario: all clients started together."""

    iteration: int
    wall_s: float
    tokens: int
    aggregate_tps: float
    failed: int


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    samples: tuple[Sample, ...]  # warm-up samples included, flagged
    rounds: tuple[Round, ...]

    def measured(self) -> list[Sample]:
        return [s for s in self.samples if not s.warmup and s.ok]

    def summaries(self) -> dict[str, Summary | None]:
        ok = self.measured()
        out = {
            "decode_tps": summarize([s.decode_tps for s in ok if s.decode_tps is not None]),
            "prefill_tps": summarize([s.prefill_tps for s in ok if s.prefill_tps is not None]),
            "ttft_s": summarize([s.ttft_s for s in ok if s.ttft_s is not None]),
            "wall_s": summarize([s.wall_s for s in ok]),
        }
        if self.rounds:
            out["aggregate_tps"] = summarize([r.aggregate_tps for r in self.rounds])
        return out


class Interrupted(KeyboardInterrupt):
    """^C during a run: what was measured until then (the scenario cut short with the samples
    it finished); still a KeyboardInterrupt for every caller that does not keep them."""

    def __init__(self, results: list[ScenarioResult]) -> None:
        super().__init__()
        self.results = results


def _rate(count: int | None, duration_ns: int | None) -> float | None:
    # 0.5.4 reports durations in whole ms and omits zero: no duration means "unknown", not "fast".
    if not count or not duration_ns:
        return None
    return count / (duration_ns / NS)


def _sample(scenario: Scenario, iteration: int, client: int, warmup: bool, wall: float,
            ttft: float | None, stream_s: float | None, m: Metrics) -> Sample:
    decode, source = _rate(m.eval_count, m.eval_duration_ns), "server"
    if decode is None and stream_s and m.eval_count and m.eval_count > 1:
        decode, source = (m.eval_count - 1) / stream_s, "client"
    return Sample(scenario.name, iteration, client, warmup, True, None, wall, ttft, decode,
                  source if decode is not None else None,
                  _rate(m.prompt_eval_count, m.prompt_eval_duration_ns), m.eval_count,
                  m.prompt_eval_count, None if m.load_duration_ns is None else m.load_duration_ns / NS,
                  None if m.total_duration_ns is None else m.total_duration_ns / NS,
                  m.eval_duration_ns, m.prompt_eval_duration_ns, m.done_reason)


def _failed(scenario: Scenario, iteration: int, client: int, warmup: bool, wall: float,
            error: str) -> Sample:
    return Sample(scenario.name, iteration, client, warmup, False, error, wall, None, None, None,
                  None, None, None, None, None, None, None, None)


def run_request(client: ServerClient, model: str, scenario: Scenario, iteration: int,
                client_no: int = 0, *, warmup: bool = False,
                clock: Clock = time.perf_counter) -> Sample:
    """One streamed generation, timed from just before the request is sent."""
    start = clock()
    first: float | None = None
    last = start
    try:
        for chunk in client.generate(model, scenario.prompt_for(iteration, client_no),
                                     scenario.options()):
            now = clock()
            if isinstance(chunk, Token):
                first = now if first is None else first
                last = now
            elif isinstance(chunk, Done):
                stream_s = last - first if first is not None and last > first else None
                return _sample(scenario, iteration, client_no, warmup, now - start,
                               None if first is None else first - start, stream_s,
                               chunk.metrics)
    except GenerationError as exc:
        return _failed(scenario, iteration, client_no, warmup, clock() - start,
                       f"{exc.kind}: {exc.message}")
    except ServerResponseError as exc:
        if exc.status not in _SAMPLE_LEVEL_STATUSES:
            raise
        return _failed(scenario, iteration, client_no, warmup, clock() - start, exc.message)
    raise AssertionError("unreachable: generate() ends with Done or raises")  # pragma: no cover


def run_round(factory: Callable[[], ServerClient], model: str, scenario: Scenario,
              iteration: int, *, warmup: bool = False,
              clock: Clock = time.perf_counter) -> tuple[list[Sample], Round]:
    """`scenario.concurrency` clients at once, each with its own connection."""
    clients = [factory() for _ in range(scenario.concurrency)]
    try:
        with ThreadPoolExecutor(max_workers=scenario.concurrency) as pool:
            start = clock()
            futures = [pool.submit(run_request, c, model, scenario, iteration, i,
                                   warmup=warmup, clock=clock) for i, c in enumerate(clients)]
            samples = [f.result() for f in futures]
            wall = clock() - start
    finally:
        for c in clients:
            c.close()
    tokens = sum(s.eval_count or 0 for s in samples if s.ok)
    failed = sum(1 for s in samples if not s.ok)
    return samples, Round(iteration, wall, tokens, tokens / wall if wall > 0 else 0.0, failed)


def run_scenario(client: ServerClient, factory: Callable[[], ServerClient], model: str,
                 scenario: Scenario, iterations: int, warmup: int, *,
                 progress: Progress | None = None, clock: Clock = time.perf_counter,
                 ) -> ScenarioResult:
    samples: list[Sample] = []
    rounds: list[Round] = []
    total = warmup + iterations
    try:
        for step in range(total):
            is_warmup = step < warmup
            iteration = step - warmup  # warm-ups are -warmup..-1
            if progress is not None:
                progress(step, total, scenario.name)
            if scenario.concurrency > 1:
                batch, rnd = run_round(factory, model, scenario, iteration, warmup=is_warmup,
                                       clock=clock)
                samples.extend(batch)
                if not is_warmup:
                    rounds.append(rnd)
            else:
                samples.append(run_request(client, model, scenario, iteration,
                                           warmup=is_warmup, clock=clock))
    except KeyboardInterrupt:
        cut = [ScenarioResult(scenario, tuple(samples), tuple(rounds))] if samples else []
        raise Interrupted(cut) from None
    if progress is not None:
        progress(total, total, scenario.name)
    return ScenarioResult(scenario, tuple(samples), tuple(rounds))


def run_suite(client: ServerClient, factory: Callable[[], ServerClient], model: str,
              suite: Suite, *, progress: Progress | None = None,
              clock: Clock = time.perf_counter) -> list[ScenarioResult]:
    results: list[ScenarioResult] = []
    for s in suite.scenarios:
        try:
            results.append(run_scenario(client, factory, model, s, suite.iterations,
                                        suite.warmup, progress=progress, clock=clock))
        except Interrupted as exc:
            raise Interrupted(results + exc.results) from None
    return results
