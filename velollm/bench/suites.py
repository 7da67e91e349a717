"""Benchmark suites: what is measured, as plain values.

Only sampling options are sent with a request. Runner options (num_ctx, num_batch, num_thread,
num_gpu) are never sent, so every request uses the same ones (the server's / Modelfile's, i.e. the
settings under test) and no measured run pays for a model reload (shared/ollama-facts.md §1.6).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from velollm.errors import ConfigError

SEED = 42
_LONG_TEXT = ("A benchmark measures one thing at a time. The server reads the whole prompt before "
              "it writes the first token, so a long prompt shows how fast it can prefill. ")


@dataclass(frozen=True)
class Scenario:
    name: str
    prompt: str
    num_predict: int
    concurrency: int = 1  # > 1: that many clients at once, aggregate throughput reported
    description: str = ""

    def options(self) -> dict[str, Any]:
        # temperature 0 + fixed seed: the same tokens every run, so runs are comparable.
        return {"temperature": 0, "seed": SEED, "num_predict": self.num_predict}

    def prompt_for(self, iteration: int, client: int = 0) -> str:
        # A distinct first line per request defeats the runner's prompt cache, which would
        # otherwise turn the second run's prefill into a cache hit.
        return f"Request {iteration}.{client}.\n{self.prompt}"


@dataclass(frozen=True)
class Suite:
    name: str
    scenarios: tuple[Scenario, ...]
    iterations: int
    warmup: int = 1


def _standard_scenarios(concurrency: int) -> tuple[Scenario, ...]:
    return (
        Scenario("short_completion", "Write one sentence about the sea.", 32,
                 description="short answer: latency-bound"),
        Scenario("medium_completion", "Explain in one paragraph how a bicycle gear works.", 128,
                 description="a paragraph: decode-bound"),
        Scenario("code_generation", "Write a Python function that returns the n-th Fibonacci "
                 "number, with a docstring.", 128, description="code: decode-bound"),
        Scenario("long_prompt", "Summarise this text in one sentence.\n" + _LONG_TEXT * 24, 16,
                 description="~900-token prompt: prefill-bound"),
        Scenario("concurrent", "Write one sentence about the mountains.", 64,
                 concurrency=concurrency,
                 description=f"{concurrency} clients at once: aggregate throughput"),
    )


def scenario_names() -> tuple[str, ...]:
    return tuple(s.name for s in _standard_scenarios(4))


def get_suite(name: str, *, iterations: int | None = None, concurrency: int = 4) -> Suite:
    """standard (5 iterations), quick (2 iterations, shorter outputs) or one scenario by name."""
    if concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1, got {concurrency}")
    if iterations is not None and iterations < 1:
        raise ConfigError(f"--iterations must be at least 1, got {iterations}")
    scenarios = _standard_scenarios(concurrency)
    if name == "standard":
        suite = Suite("standard", scenarios, 5)
    elif name == "quick":
        quick = tuple(replace(s, num_predict=min(s.num_predict, 32)) for s in scenarios)
        suite = Suite("quick", quick, 2)
    else:
        chosen = tuple(s for s in scenarios if s.name == name)
        if not chosen:
            raise ConfigError(f"unknown benchmark suite {name!r}",
                              hint="use standard, quick or one of: "
                                   + ", ".join(scenario_names()))
        suite = Suite(name, chosen, 5)
    return replace(suite, iterations=iterations) if iterations is not None else suite
