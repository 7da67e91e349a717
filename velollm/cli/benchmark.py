"""`velollm benchmark`: measure the running server (Ollama, llama-server, vLLM) with a fixed suite."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from velollm.cli import _load, _speculative
from velollm.cli._deadlines import GENERATION_S, add_deadline_options, bounded
from velollm.output import OUT

EXIT_INTERRUPTED = 130  # as main's ^C: the partial results are still reported
EXIT_ERROR = 1
RUN_DEADLINE_S = 3600.0  # the standard suite is 30 requests: minutes on a slow CPU

HELP = ("measure the running server (Ollama by default; --backend llamacpp or vllm): tokens/s, "
        "TTFT, prefill, concurrency")


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
    p.add_argument("--engine", metavar="NAME", default="server",
                   help="server: through the running server's API (default); llama-bench: "
                        "llama.cpp's own tool, without the server, with the settings velollm "
                        "applied (backend llamacpp; --model names the GGUF file)")
    add_deadline_options(p, RUN_DEADLINE_S, generation_s=GENERATION_S)
    _speculative.add_options(p)
    _load.add_options(p)


def run(args: argparse.Namespace) -> int:
    if args.speculative:  # servers of its own, each request with its own deadline
        return _speculative.run(args, args.backend)
    with bounded(args):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from velollm.backends import get_backend
    from velollm.bench import baseline, suites
    from velollm.report.progress import progress_bar

    suite = suites.get_suite(args.suite, iterations=args.iterations,
                             concurrency=args.concurrency)
    backend = get_backend(args.backend)
    if args.engine != "server":
        from velollm.app.engines import measure_with

        engine_results, engine_doc = measure_with(backend, args.engine, args.model, suite)
        return _report(engine_results, engine_doc, args.out,
                       f"Benchmark of {engine_doc['model']} with {args.engine} "
                       f"{engine_doc['server']['version']} ({suite.iterations} runs each)",
                       None, args.engine)
    client = backend.client(backend.base_url(args.host))
    version = client.version()
    model = args.model or _default_model(client, backend.title)
    if args.load:
        return _load.run(args, backend, client, model)
    progress = progress_bar()

    def hardware() -> dict[str, Any] | None:
        if progress is not None:
            progress.clear()  # before detection may log to stderr
        return _hardware()

    stopped: baseline.BenchmarkStopped | None = None
    try:
        measured = baseline.run_benchmark(client, model, suite, version=version, hardware=hardware,
                                          progress=progress)
    except baseline.BenchmarkInterrupted as exc:  # ^C: keep and show what was measured
        measured = exc.measurement
    except baseline.BenchmarkStopped as exc:  # the server misbehaved, or the deadline passed
        measured, stopped = exc.measurement, exc
    finally:
        if progress is not None:
            progress.clear()
    return _report(measured.results, measured.document, args.out,
                   f"Benchmark of {model} on {backend.title} {version} at {client.base_url} "
                   f"(suite {suite.name}, {suite.iterations} runs + {suite.warmup} warm-up each)",
                   stopped, client.base_url)


def _report(results: list[Any], document: dict[str, Any], out: Path | None, title: str,
            stopped: Exception | None, url: str) -> int:
    from velollm.app.runlog import keep_run  # for `velollm dashboard` and `velollm report`
    from velollm.bench.counters import mismatch
    from velollm.report import bench as report

    keep_run("benchmark", document)
    if out is not None:
        report.write_json_atomic(out, document)
    failure = _failure(stopped, document, url)
    code = EXIT_ERROR if failure else EXIT_INTERRUPTED if document["partial"] else 0
    _busy(document)
    disagree = mismatch(document)
    if disagree:
        OUT.warn(disagree)
    if OUT.json_mode:
        OUT.json(document)
        _ended(document, out, failure)
        return code
    OUT.line(title)
    OUT.line()
    for line in report.render_table(results):
        OUT.line(line)
    OUT.line()
    for line in report.render_summary(report.seed_summary(results)):
        OUT.line(line)
    if out is not None:
        OUT.info(f"wrote {out}" + (" (partial)" if document["partial"] else ""))
    _ended(document, None, failure)
    return code


def _failure(stopped: Exception | None, document: dict[str, Any],
             url: str) -> tuple[str, str | None] | None:
    """(message, hint) when the run did not measure what it set out to; None when it did."""
    from velollm.errors import VelollmError

    if isinstance(stopped, VelollmError):
        done = sum(1 for b in document["benchmarks"] for s in b["samples"] if s["ok"])
        return (f"benchmark stopped: {stopped.message}",
                f"{done} request(s) measured before it stopped; the results are partial"
                + (f"; {stopped.hint}" if stopped.hint else ""))
    samples = [s for b in document["benchmarks"] for s in b["samples"] if not s["warmup"]]
    if samples and not any(s["ok"] for s in samples):
        first = next(s["error"] for s in samples if s["error"])
        message = (f"the benchmark measured nothing: all {len(samples)} measured requests to "
                   f"the server at {url} failed (the first: {first})")
        return message, None
    return None


def _ended(document: dict[str, Any], out: Path | None,
           failure: tuple[str, str | None] | None) -> None:
    if failure is not None:
        OUT.error(failure[0], hint=failure[1])
    else:
        _interrupted(document, out)


def _busy(document: dict[str, Any]) -> None:
    from velollm.core.contention import cause

    why = cause(document.get("contention"))
    if why:
        OUT.warn(f"the machine was busy during the benchmark ({why}): its figures may be low; "
                 "as a baseline, verify will not confirm a regression against it")


def _interrupted(document: dict[str, Any], out: Path | None) -> None:
    if document["partial"]:
        OUT.error(f"Interrupted (^C): {len(document['benchmarks'])} benchmark(s) measured, "
                  "the last possibly cut short; the results are partial"
                  + (f" (also in {out}, \"partial\": true)" if out is not None else ""))


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
