"""One `velollm tune` candidate on Ollama: a fresh `ollama serve` with the candidate's server
knobs in its environment, and rounds of the declared workload against it (`concurrency` streams
at once, `num_predict` = output_tokens, the candidate's model parameters in `options`).

The server runs on a free loopback port with a scratch HOME (its key pair goes there) and reads
the user's model store; OLLAMA_NOPRUNE keeps it from deleting blobs it thinks unused, so the store
is only read. The user's other OLLAMA_* variables are left out: only the candidate counts.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from velollm.backends.ollama import knobs
from velollm.backends.ollama.client import OllamaClient
from velollm.backends.wire import Done, GenerationError, Token
from velollm.core.tune_space import OLLAMA_SERVER_KEYS, Candidate, key, ollama_options
from velollm.core.workload import RequestResult, Round, Workload, round_score
from velollm.errors import VelollmError
from velollm.io.launch import Launched, answers, launched

# Short common English words: with a leading space each is one token in the usual BPE
# vocabularies, so a prompt of N words is about N tokens. Ollama takes text, not token ids, so
# the length is approximate: each launch calibrates the words per token from the warm-up
# request's prompt_eval_count (the tokens the server really evaluated). The prompts go raw, so
# the model's template (a system prompt of its own) adds nothing the workload did not declare.
WORDS = ("the", "of", "and", "to", "in", "is", "was", "for", "on", "with", "as", "by", "at",
         "from", "that", "this", "it", "are", "be", "or", "an", "not", "but", "all", "can",
         "one", "new", "time", "year", "day", "way", "man", "work", "life", "world", "house",
         "water", "city", "game", "music", "river", "road", "light", "tree", "book", "door")


@dataclass(frozen=True)
class OllamaRuntime:
    binary: Path
    model: str
    models_dir: Path  # the user's store, read only
    workdir: Path  # scratch HOMEs and server logs


# Ollama answers GET /api/version once it serves
ready = answers("Ollama", "/api/version", lambda data: isinstance(data, dict) and "version" in data)


def server_env(runtime: OllamaRuntime, candidate: Candidate, home: Path, port: int,
               inherited: Mapping[str, str]) -> dict[str, str]:
    """The environment of one candidate's `ollama serve` (pure: `inherited` is os.environ)."""
    env = {k: v for k, v in inherited.items() if not k.startswith("OLLAMA_")}
    env |= {"HOME": str(home), "OLLAMA_HOST": f"127.0.0.1:{port}",
            "OLLAMA_MODELS": str(runtime.models_dir), "OLLAMA_NOPRUNE": "1"}
    for name in OLLAMA_SERVER_KEYS:
        if name in candidate:
            env[knobs.SERVER_KNOBS[name].env] = knobs.env_value(name, candidate[name])
    return env


@contextlib.contextmanager
def serve(runtime: OllamaRuntime, candidate: Candidate, label: str, *,
          start_timeout_s: float = 120.0) -> Iterator[Launched]:
    """A fresh `ollama serve` with the candidate's server knobs, stopped by its PID at the end."""
    home = runtime.workdir / f"tune-{label}-home"
    home.mkdir(parents=True, exist_ok=True)
    with launched(lambda _port: [str(runtime.binary), "serve"],
                  log_path=runtime.workdir / f"tune-{label}.log", ready=ready,
                  deadline_s=start_timeout_s,
                  title=f"ollama serve ({key(candidate) or 'defaults'})",
                  env=lambda port: server_env(runtime, candidate, home, port, os.environ)
                  ) as server:
        yield server


def launcher(runtime: OllamaRuntime, workload: Workload, *, seed: int = 0
             ) -> Callable[[Candidate], contextlib.AbstractContextManager[Callable[[], float | None]]]:
    counter = iter(range(1_000_000))

    @contextlib.contextmanager
    def launch(candidate: Candidate) -> Iterator[Callable[[], float | None]]:
        with serve(runtime, candidate, f"{next(counter):03d}") as server:
            rng = random.Random(seed)
            job = Job(server.base_url, runtime.model, ollama_options(candidate, workload),
                      workload)
            job.calibrate(rng)  # also the warm-up: the first request pays for loading

            def run_round() -> float | None:
                return round_score(workload, job.round(rng))

            yield run_round

    return launch


@dataclass
class Job:
    base_url: str
    model: str
    options: dict[str, object]
    workload: Workload
    words_per_token: float = 1.0

    def calibrate(self, rng: random.Random) -> None:
        """One request of the declared prompt length; its prompt_eval_count sets the ratio."""
        words = max(1, self.workload.prompt_tokens)
        result, evaluated = self.request(random.Random(rng.randrange(2**31)), 4, words)
        if result.problem is not None:
            raise VelollmError(f"the warm-up request to {self.model} failed: {result.problem}",
                               hint="check that the model runs: `ollama run MODEL`")
        if evaluated:
            self.words_per_token = words / evaluated

    def round(self, rng: random.Random) -> Round:
        seeds = [rng.randrange(2**31) for _ in range(self.workload.per_round)]
        words = max(1, round(self.workload.prompt_tokens * self.words_per_token))

        def one(s: int) -> RequestResult:
            return self.request(random.Random(s), self.workload.output_tokens, words)[0]

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=self.workload.concurrency) as pool:
            results = tuple(pool.map(one, seeds))
        return Round(results, time.monotonic() - started)

    def request(self, rng: random.Random, num_predict: int, words: int
                ) -> tuple[RequestResult, int | None]:
        """One streamed /api/generate; the result, and the prompt tokens Ollama evaluated."""
        prompt = " ".join(rng.choice(WORDS) for _ in range(words))
        options = {**self.options, "num_predict": num_predict, "seed": rng.randrange(2**31)}
        client = OllamaClient(self.base_url, read_timeout=max(120.0, num_predict * 2.0),
                              retries=0)
        started = time.monotonic()
        ttft: float | None = None
        try:
            for chunk in client.generate(self.model, prompt, options, raw=True):
                if isinstance(chunk, Token) and ttft is None:
                    ttft = (time.monotonic() - started) * 1000
                if isinstance(chunk, Done):
                    return _result(ttft, chunk), chunk.metrics.prompt_eval_count
        except (GenerationError, VelollmError) as exc:
            return RequestResult(None, None, 0, problem=exc.message), None
        finally:
            client.close()
        return RequestResult(ttft, None, 0, problem="the stream ended without statistics"), None


def _result(ttft: float | None, done: Done) -> RequestResult:
    n, ns = done.metrics.eval_count, done.metrics.eval_duration_ns
    if not n:
        return RequestResult(ttft, None, 0, problem="the answer has no tokens (eval_count 0)")
    # Ollama 0.5.4 rounds eval_duration to whole milliseconds and omits it when zero.
    return RequestResult(ttft, n / (ns / 1e9) if ns else None, n)
