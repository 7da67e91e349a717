"""`velollm benchmark --engine NAME`: a backend's own benchmark tool (llama.cpp's llama-bench)
instead of the server, run with the settings velollm last applied for that backend."""

from __future__ import annotations

from typing import Any

from velollm.app.verification import applied_backend
from velollm.backends.base import Backend, BenchEngines
from velollm.bench.runner import ScenarioResult
from velollm.bench.suites import Suite
from velollm.errors import UsageError
from velollm.io.state import load_state

SERVER = "server"


def applied_settings(backend: Backend) -> dict[str, str]:
    """The settings velollm last applied, when they were this backend's; {} otherwise."""
    state = load_state()
    env = state.settings.get("env")
    if applied_backend(state) != backend.name or not isinstance(env, dict):
        return {}
    return {str(k): str(v) for k, v in env.items()}


def measure_with(backend: Backend, engine: str, model: str | None,
                 suite: Suite) -> tuple[list[ScenarioResult], dict[str, Any]]:
    if not isinstance(backend, BenchEngines) or engine not in backend.bench_engines():
        engines = backend.bench_engines() if isinstance(backend, BenchEngines) else ()
        raise UsageError(f"--engine {engine}: {backend.title} has no such benchmark tool",
                         hint="use --engine server" + (f" or one of: {', '.join(engines)}"
                                                       if engines else ""))
    return backend.bench_engine(engine, model=model, suite=suite,
                                settings=applied_settings(backend))
