"""`velollm benchmark --load SHAPE`: the asynchronous load generator (bench/load.py) with its
figures and self-check; the benchmark command delegates here."""

from __future__ import annotations

import argparse
from typing import Any

from velollm.output import OUT

SHAPES = "concurrency:N[,N...] | sweep[:MAX] | rate:R[,R...] (requests per second)"


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "load shapes (--load)",
        "Many concurrent streams from one asynchronous client, each line timestamped on "
        "arrival: TTFT and inter-token latency percentiles, throughput, goodput. The client "
        "checks its own CPU and event-loop lag and says when the figures are bounded by it, "
        "not by the server.")
    g.add_argument("--load", metavar="SHAPE", help=SHAPES)
    g.add_argument("--requests", type=int, default=None, metavar="N",
                   help="requests per level (default: 4 x the concurrency; rate: 32)")
    g.add_argument("--ttft-limit-ms", type=float, metavar="MS",
                   help="goodput counts requests with a TTFT within this")
    g.add_argument("--itl-limit-ms", type=float, metavar="MS",
                   help="goodput counts requests whose every inter-token gap is within this")


def parse_shape(text: str) -> tuple[str, list[float]]:
    from velollm.errors import UsageError

    name, _, rest = text.partition(":")
    if name not in ("concurrency", "sweep", "rate"):
        raise UsageError(f"--load {text!r}: unknown shape", hint=f"use {SHAPES}")
    try:
        levels = [float(x) for x in rest.split(",")] if rest else []
    except ValueError:
        raise UsageError(f"--load {text!r}: the levels must be numbers", hint=SHAPES) from None
    if name != "sweep" and not levels:
        raise UsageError(f"--load {name} needs levels, e.g. {name}:4", hint=SHAPES)
    if any(v <= 0 or v > 100_000 for v in levels) or (
            name != "rate" and any(v != int(v) for v in levels)):
        raise UsageError(f"--load {text!r}: levels must be positive"
                         + ("" if name == "rate" else " whole numbers"), hint=SHAPES)
    return name, levels


def run(args: argparse.Namespace, backend: Any, client: Any, model: str) -> int:
    from velollm.bench.load import LoadSpec, run_shape
    from velollm.errors import UsageError

    shape, levels = parse_shape(args.load)
    if args.requests is not None and args.requests < 1:
        raise UsageError("--requests must be at least 1")
    top = int(max(levels)) if levels and shape != "rate" else 1
    spec = LoadSpec(model, "Write a short story about a lighthouse keeper.", args.num_predict,
                    requests=args.requests or (32 if shape == "rate" else 4 * top))
    runs = run_shape(client.base_url, backend.title, backend.stream_format(), spec, shape,
                     levels, OUT.info)
    docs = [r.as_dict(args.ttft_limit_ms, args.itl_limit_ms) for r in runs]
    if OUT.json_mode:
        OUT.json({"load": args.load, "model": model, "server": client.base_url, "runs": docs})
        return 0
    from velollm.report.layout import fit_table

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    rows = [["level", "ok/all", "tokens/s", "TTFT p50/p90/p99 ms", "ITL p50/p90/p99 ms",
             "goodput req/s", "client CPU", "self-check"]]
    for r in runs:
        rows.append([r.label, f"{len(r.results) - r.failed}/{len(r.results)}",
                     f"{r.throughput:.1f}", "/".join(ms(r.ttft(q)) for q in (50, 90, 99)),
                     "/".join(ms(r.itl(q)) for q in (50, 90, 99)),
                     f"{r.goodput(args.ttft_limit_ms, args.itl_limit_ms):.2f}",
                     f"{r.client_cpu_share:.0%}", r.self_check() or "ok"])
    OUT.line(f"Load on {backend.title} at {client.base_url} with {model}: {args.load}")
    for row in fit_table(rows, flex=7, right=(1, 2, 5, 6)):
        for line in row:
            OUT.line(line)
    for r in runs:
        for problem in sorted({x.problem for x in r.results if x.problem})[:5]:
            OUT.warn(f"{r.label}: {problem}")
    return 0
