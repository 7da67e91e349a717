"""Load shapes of `velollm benchmark --load`, on one asyncio loop: fixed concurrency, a
concurrency sweep up to the saturation knee, and a constant request rate (Poisson arrivals)
with goodput under TTFT / inter-token-latency limits.

Every streamed line is timestamped on arrival (time.monotonic, in io/ahttp.py). The client checks
itself while it runs: its own CPU time against the wall time, and how late the event loop wakes
a 10 ms ticker. When either shows the client near saturation, the figures are bounded by the
client, not the server, and the run says so.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from velollm.backends.wire import StreamFormat
from velollm.core.loadstats import LoadRun, StreamResult
from velollm.errors import VelollmError
from velollm.io.ahttp import AsyncHttp

TICK_S = 0.010


@dataclass(frozen=True)
class LoadSpec:
    model: str
    prompt: str
    n_predict: int
    requests: int  # per run (per step of a sweep)
    deadline_s: float = 300.0  # per request, body included
    # Poisson arrivals: the random generator's seed, so two runs send the same schedule
    seed: int = 0


@dataclass
class _Probe:
    """The client's view of itself: CPU seconds and event-loop lag while the run lasts."""

    lags_ms: list[float] = field(default_factory=list)

    async def tick(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(TICK_S)
            self.lags_ms.append(max(0.0, (time.monotonic() - before - TICK_S) * 1000))


async def _stream(http: AsyncHttp, fmt: StreamFormat, spec: LoadSpec) -> StreamResult:
    path, body = fmt.request(spec.model, spec.prompt, spec.n_predict)
    start = time.monotonic()
    arrivals: list[float] = []
    tokens = decode_ms = None
    try:
        async for at, line in http.lines("POST", path, body, deadline_s=spec.deadline_s):
            event = fmt.parse(line)
            if event is None:
                continue
            if event.error:
                return StreamResult(start, arrivals, time.monotonic(), None, None,
                                    f"the server reported: {event.error}")
            if event.text:
                arrivals.append(at)
            if event.done:
                tokens, decode_ms = event.tokens, event.decode_ms
                return StreamResult(start, arrivals, at, tokens, decode_ms)
    except VelollmError as exc:
        return StreamResult(start, arrivals, time.monotonic(), None, None, exc.message)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        return StreamResult(start, arrivals, time.monotonic(), None, None,
                            f"a stream line velollm cannot read: {exc}")
    return StreamResult(start, arrivals, time.monotonic(), tokens, decode_ms,
                        "the stream ended before its last line")


async def _measured(label: str,
                    body: Callable[[], asyncio.Future[list[StreamResult]]]) -> LoadRun:
    probe, stop = _Probe(), asyncio.Event()
    ticker = asyncio.create_task(probe.tick(stop))
    cpu0, wall0 = time.process_time(), time.monotonic()
    results = await body()
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    stop.set()
    await ticker
    return LoadRun(label, tuple(results), wall, cpu, tuple(probe.lags_ms))


async def at_concurrency(http: AsyncHttp, fmt: StreamFormat, spec: LoadSpec,
                         concurrency: int) -> LoadRun:
    """`spec.requests` requests, `concurrency` in flight at any time."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> StreamResult:
        async with gate:
            return await _stream(http, fmt, spec)

    def body() -> asyncio.Future[list[StreamResult]]:
        return asyncio.gather(*(one() for _ in range(spec.requests)))

    return await _measured(f"concurrency {concurrency}", body)


async def at_rate(http: AsyncHttp, fmt: StreamFormat, spec: LoadSpec, rate: float) -> LoadRun:
    """Requests arriving at `rate` per second on average (exponential gaps), whatever the
    server's answers: an open load, as real users send it."""
    rng = random.Random(spec.seed)
    gaps = [rng.expovariate(rate) for _ in range(spec.requests)]

    async def send() -> list[StreamResult]:
        tasks = []
        for gap in gaps:
            await asyncio.sleep(gap)
            tasks.append(asyncio.create_task(_stream(http, fmt, spec)))
        return list(await asyncio.gather(*tasks))

    def body() -> asyncio.Future[list[StreamResult]]:
        return asyncio.ensure_future(send())

    return await _measured(f"rate {rate:g}/s", body)


async def sweep(http: AsyncHttp, fmt: StreamFormat, spec: LoadSpec, *, most: int = 256,
                gain: float = 1.10, progress: Callable[[str], None] = lambda _m: None
                ) -> list[LoadRun]:
    """Concurrency 1, 2, 4, ... until throughput stops rising by `gain` (the saturation knee),
    a step fails, or `most` is reached."""
    runs: list[LoadRun] = []
    level = 1
    while level <= most:
        progress(f"concurrency {level}")
        run = await at_concurrency(http, fmt, spec, level)
        runs.append(run)
        if run.failed == len(run.results):
            break
        previous = runs[-2].throughput if len(runs) > 1 else None
        if previous and run.throughput < previous * gain:
            break
        level *= 2
    return runs


def run_shape(base_url: str, title: str, fmt: StreamFormat, spec: LoadSpec, shape: str,
              levels: Sequence[float], progress: Callable[[str], None] = lambda _m: None
              ) -> list[LoadRun]:
    """Run a load shape ("concurrency", "rate", "sweep") to completion on a fresh event loop."""
    async def main() -> list[LoadRun]:
        async with AsyncHttp(base_url, title) as http:
            if shape == "sweep":
                return await sweep(http, fmt, spec, most=int(max(levels or (256,))),
                                   progress=progress)
            runs = []
            for level in levels:
                progress(f"{shape} {level:g}")
                runs.append(await (at_rate(http, fmt, spec, level) if shape == "rate"
                                   else at_concurrency(http, fmt, spec, int(level))))
            return runs

    return asyncio.run(main())
