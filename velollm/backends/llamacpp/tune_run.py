"""One `velollm tune` candidate on llama-server: a fresh server with its flags, and rounds of the
declared workload against it (`concurrency` streams at once, prompts of exactly `prompt_tokens`
tokens, answers of exactly `output_tokens`).

Prompts are token ids (llama-server's /completion accepts a list), drawn from a seeded generator,
so the prefill is exactly the declared length whatever the tokenizer; `ignore_eos` makes every
answer exactly as long as declared, and `cache_prompt: false` makes every request prefill.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from velollm.backends.llamacpp.speculative import healthy
from velollm.core.tune_space import Candidate, key, to_args
from velollm.core.workload import RequestResult, Round, Workload, round_score
from velollm.errors import VelollmError
from velollm.io.http import Http, Limits
from velollm.io.launch import launched

TOKEN_RANGE = (1000, 8000)  # ordinary vocabulary ids in every tokenizer velollm has seen


def launcher(binary: Path, model: Path, workload: Workload, workdir: Path, *,
             start_timeout_s: float = 120.0, seed: int = 0
             ) -> Callable[[Candidate], contextlib.AbstractContextManager[Callable[[], float | None]]]:
    counter = iter(range(1_000_000))

    @contextlib.contextmanager
    def launch(candidate: Candidate) -> Iterator[Callable[[], float | None]]:
        number = next(counter)

        def argv(port: int) -> list[str]:
            return [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
                    "--no-webui", *to_args(candidate, workload)]

        log = workdir / f"tune-{number:03d}.log"
        with launched(argv, log_path=log, ready=healthy, deadline_s=start_timeout_s,
                      title=f"llama-server ({key(candidate) or 'defaults'})") as server:
            rng = random.Random(seed)
            http = Http(server.base_url, "llama-server",
                        Limits(deadline_s=max(60.0, workload.output_tokens * 2.0)), retries=0)
            try:
                _request(http, workload, rng, 8)  # warm-up: the first request pays for loading

                def run_round() -> float | None:
                    return round_score(workload, measure_round(http, workload, rng))

                yield run_round
            finally:
                http.close()

    return launch


def measure_round(http: Http, workload: Workload, rng: random.Random) -> Round:
    seeds = [rng.randrange(2**31) for _ in range(workload.per_round)]

    def one(seed: int) -> RequestResult:
        return _request(http, workload, random.Random(seed), workload.output_tokens)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workload.concurrency) as pool:
        results = tuple(pool.map(one, seeds))
    return Round(results, time.monotonic() - started)


def _request(http: Http, workload: Workload, rng: random.Random, n_predict: int
             ) -> RequestResult:
    prompt = [rng.randrange(*TOKEN_RANGE) for _ in range(workload.prompt_tokens)]
    body = {"prompt": prompt, "n_predict": n_predict, "temperature": 0, "ignore_eos": True,
            "cache_prompt": False, "stream": True}
    started = time.monotonic()
    ttft = None
    timings: dict[str, object] | None = None
    try:
        for line in http.lines("POST", "/completion", body):
            if not line.startswith(b"data: "):
                continue
            chunk = json.loads(line[6:])
            if not isinstance(chunk, dict):
                raise TypeError("a stream chunk that is not an object")
            if ttft is None and chunk.get("content"):
                ttft = (time.monotonic() - started) * 1000
            if chunk.get("stop") is True and isinstance(chunk.get("timings"), dict):
                timings = chunk["timings"]
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        return RequestResult(None, None, 0, problem=f"bad stream: {exc}")
    except VelollmError as exc:
        return RequestResult(None, None, 0, problem=exc.message)
    if timings is None:
        return RequestResult(ttft, None, 0, problem="the stream ended without timings")
    n, ms = timings.get("predicted_n"), timings.get("predicted_ms")
    if not isinstance(n, int) or not isinstance(ms, (int, float)) or n <= 0 or ms <= 0:
        return RequestResult(ttft, None, 0, problem=f"implausible timings {n} / {ms} ms")
    return RequestResult(ttft, n / (ms / 1000), n)
