"""`velollm benchmark`: measure the running Ollama server with a fixed suite."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from velollm.output import OUT

HELP = "measure the running Ollama server (tokens/s, TTFT, prefill, concurrency)"


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "benchmark", parents=[common], help=HELP,
        description=HELP + ". Every request streams; one warm-up per benchmark is excluded.")
    p.add_argument("--model", help="model to benchmark (default: the most recently modified "
                                    "installed model)")
    p.add_argument("--suite", default="standard",
                   help="standard, quick, or one benchmark by name (default: standard)")
    p.add_argument("--iterations", type=int, default=None, metavar="N",
                   help="measured runs per benchmark (default: 5; quick: 2)")
    p.add_argument("--concurrency", type=int, default=4, metavar="N",
                   help="clients at once in the concurrent benchmark (default: 4)")
    p.add_argument("--out", type=Path, metavar="FILE", help="also write the JSON result to FILE")
    p.add_argument("--host", metavar="URL",
                   help="the server's base URL (default for Ollama: from OLLAMA_HOST, else "
                        "http://127.0.0.1:11434)")
    p.add_argument("--backend", metavar="NAME", default=None,
                   help="the kind of server (default: ollama)")


def run(args: argparse.Namespace) -> int:
    from velollm.backends import get_backend
    from velollm.bench import baseline, suites
    from velollm.report import bench as report

    suite = suites.get_suite(args.suite, iterations=args.iterations,
                             concurrency=args.concurrency)
    backend = get_backend(args.backend)
    client = backend.client(backend.base_url(args.host))
    version = client.version()
    model = args.model or _default_model(client, backend.title)
    progress = _Progress() if OUT.progress_enabled() else None

    def hardware() -> dict[str, Any] | None:
        if progress is not None:
            progress.clear()  # before detection may log to stderr
        return _hardware()

    try:
        measured = baseline.run_benchmark(client, model, suite, version=version, hardware=hardware,
                                          progress=progress)
    finally:
        if progress is not None:
            progress.clear()
    results, document = measured.results, measured.document
    if args.out is not None:
        report.write_json_atomic(args.out, document)
    if OUT.json_mode:
        OUT.json(document)
        return 0
    OUT.line(f"Benchmark of {model} on {backend.title} {version} at {client.base_url} "
             f"(suite {suite.name}, {suite.iterations} runs + {suite.warmup} warm-up each)")
    OUT.line()
    for line in report.render_table(results):
        OUT.line(line)
    OUT.line()
    for line in report.render_summary(report.seed_summary(results)):
        OUT.line(line)
    if args.out is not None:
        OUT.info(f"wrote {args.out}")
    return 0


def _default_model(client: Any, title: str) -> str:
    from velollm.bench.pick import pick_model

    name, how = pick_model(client, title)
    OUT.info(f"benchmarking {name} ({how}; choose with --model)")
    return name


def _hardware() -> dict[str, Any] | None:
    """velollm.io.hardware.detect() when available; the benchmark never fails for want of it."""
    import dataclasses
    import importlib

    from velollm.errors import VelollmError

    try:
        detect = importlib.import_module("velollm.io.hardware").detect
        hw = detect()
    except (ImportError, AttributeError, OSError, VelollmError) as exc:
        # Best effort: the measurements stand without it (and velollm.io.hardware may be absent).
        OUT.debug(f"hardware detection skipped: {exc}")
        return None
    if hasattr(hw, "to_dict"):
        data: dict[str, Any] = hw.to_dict()
        return data
    if dataclasses.is_dataclass(hw) and not isinstance(hw, type):
        return dataclasses.asdict(hw)
    return None


class _Progress:
    """One self-rewriting stderr line; only used on a TTY."""

    def __init__(self) -> None:
        self.width = 0
        self.cleared = False

    def __call__(self, done: int, total: int, name: str) -> None:
        filled = 20 * done // max(total, 1)
        text = f"[{'#' * filled}{'.' * (20 - filled)}] {name} {done}/{total}"
        OUT.err.write("\r" + text.ljust(self.width))
        OUT.err.flush()
        self.width = max(self.width, len(text))

    def clear(self) -> None:
        if not self.cleared:  # once: after the run, or on the way out of a failed one
            self.cleared = True
            OUT.err.write("\r" + " " * self.width + "\r")
            OUT.err.flush()
