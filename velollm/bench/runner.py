"""Run a suite against a real server: one streamed request per sample, timed on the client.

The I/O edge of the benchmark. A request that fails in a way the benchmark can report (a generation
aborted, an error mid-stream, HTTP 503 "server busy", figures no real server can produce) becomes a
failed Sample with its reason. A server that misbehaves (a stream cut, garbage, no answer in
time), is gone, or the run's deadline passing stops the run: `Stopped` carries what was measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from velollm.backends.wire import (
    SERVER_FAULTS,
    Done,
    GenerationError,
    Metrics,
    ServerClient,
    Token,
)
from velollm.bench.suites import Scenario, Suite
from velollm.core.plausibility import MIN_DECODE_NS_PER_TOKEN, Reported, implausible
from velollm.core.stats import Summary, summarize
from velollm.errors import ServerResponseError, VelollmError

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


class Stopped(Exception):
    """The run ended before the suite did: the server misbehaved or was gone, or the run's
    deadline passed. `results`: what was measured until then; `error`: why, for the user."""

    def __init__(self, results: list[ScenarioResult], error: VelollmError) -> None:
        super().__init__(error.message)
        self.results = results
        self.error = error


class _Fault(Exception):
    """A request the server broke (SERVER_FAULTS): its failed samples, and the run must stop."""

    def __init__(self, samples: list[Sample], error: VelollmError) -> None:
        super().__init__(error.message)
        self.samples = samples  # one, or a concurrent round's
        self.error = error


def _rate(count: int | None, duration_ns: int | None) -> float | None:
    # 0.5.4 reports durations in whole ms and omits zero: no duration means "unknown", not "fast".
    if not count or not duration_ns:
        return None
    return count / (duration_ns / NS)


def _sample(scenario: Scenario, iteration: int, client: int, warmup: bool, wall: float,
            ttft: float | None, stream_s: float | None, m: Metrics, pieces: int) -> Sample:
    why = implausible(Reported(m.eval_count, m.eval_duration_ns, m.prompt_eval_count,
                               m.prompt_eval_duration_ns, m.total_duration_ns, m.load_duration_ns,
                               pieces), wall_s=wall, requested_tokens=scenario.num_predict)
    if why is not None:
        return _failed(scenario, iteration, client, warmup, wall,
                       f"implausible: the server reported {why}")
    decode, source = _rate(m.eval_count, m.eval_duration_ns), "server"
    if decode is None and stream_s and m.eval_count and m.eval_count > 1:
        decode, source = (m.eval_count - 1) / stream_s, "client"
        if decode > NS / MIN_DECODE_NS_PER_TOKEN:  # chunks that arrived together: not a rate
            decode = None
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
                clock: Clock = time.perf_counter, stop_on_fault: bool = False) -> Sample:
    """One streamed generation, timed from just before the request is sent. A broken stream is a
    failed sample; with `stop_on_fault` (within a run) it raises _Fault, so the run stops."""
    try:
        return _request(client, model, scenario, iteration, client_no, warmup, clock)
    except _Fault as fault:
        if stop_on_fault:
            raise
        return fault.samples[0]


def _request(client: ServerClient, model: str, scenario: Scenario, iteration: int,
             client_no: int, warmup: bool, clock: Clock) -> Sample:
    start = clock()
    first: float | None = None
    last = start
    pieces = 0
    try:
        for chunk in client.generate(model, scenario.prompt_for(iteration, client_no),
                                     scenario.options()):
            now = clock()
            if isinstance(chunk, Token):
                first = now if first is None else first
                last = now
                pieces += 1
            elif isinstance(chunk, Done):
                stream_s = last - first if first is not None and last > first else None
                return _sample(scenario, iteration, client_no, warmup, now - start,
                               None if first is None else first - start, stream_s,
                               chunk.metrics, pieces)
    except GenerationError as exc:
        sample = _failed(scenario, iteration, client_no, warmup, clock() - start,
                         f"{exc.kind}: {exc.message}")
        if exc.kind in SERVER_FAULTS:
            raise _Fault([sample], exc) from None
        return sample
    except ServerResponseError as exc:
        if exc.status not in _SAMPLE_LEVEL_STATUSES:
            raise
        return _failed(scenario, iteration, client_no, warmup, clock() - start, exc.message)
    raise AssertionError("unreachable: generate() ends with Done or raises")  # pragma: no cover


def run_round(factory: Callable[[], ServerClient], model: str, scenario: Scenario,
              iteration: int, *, warmup: bool = False,
              clock: Clock = time.perf_counter) -> tuple[list[Sample], Round]:
    """`scenario.concurrency` clients at once, each with its own connection. A server fault in
    any of them raises _Fault with the round's samples, once every client has finished."""
    clients = [factory() for _ in range(scenario.concurrency)]
    samples: list[Sample] = []
    error: VelollmError | None = None
    try:
        with ThreadPoolExecutor(max_workers=scenario.concurrency) as pool:
            start = clock()
            futures = [pool.submit(run_request, c, model, scenario, iteration, i,
                                   warmup=warmup, clock=clock, stop_on_fault=True)
                       for i, c in enumerate(clients)]
            for f in futures:
                try:
                    samples.append(f.result())
                except _Fault as fault:
                    samples.extend(fault.samples)
                    error = error or fault.error
                except VelollmError as exc:
                    error = error or exc
            wall = clock() - start
    finally:
        for c in clients:
            c.close()
    if error is not None:
        raise _Fault(samples, error)
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

    def so_far() -> list[ScenarioResult]:
        return [ScenarioResult(scenario, tuple(samples), tuple(rounds))] if samples else []

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
                                           warmup=is_warmup, clock=clock, stop_on_fault=True))
    except KeyboardInterrupt:
        raise Interrupted(so_far()) from None
    except _Fault as fault:
        samples.extend(fault.samples)
        raise Stopped(so_far(), fault.error) from None
    except VelollmError as exc:  # gone, an error status, the run's deadline: stop, keep results
        raise Stopped(so_far(), exc) from None
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
        except Stopped as exc:
            raise Stopped(results + exc.results, exc.error) from None
    return results
