"""`velollm tune`: measure candidate settings on fresh servers against the declared workload,
and keep the best as velollm.yaml pins."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from velollm.output import OUT

HELP = "measure candidate server settings against your workload and keep the best"


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "tune", parents=[common], help=HELP,
        description=HELP + ". Each candidate runs on a fresh server of its own (127.0.0.1, a "
        "free port, stopped by its PID); candidates that would not fit in memory, or that the "
        "server would refuse, are never run; Optuna picks the next candidate and stops clearly "
        "worse ones early; the best two are then measured again side by side with the "
        "server's defaults and velollm's rule-based choice (the search's first candidate), "
        "and the best of that comparison wins. ^C keeps what was measured.")
    p.add_argument("--config", type=Path, metavar="VELOLLM.yaml",
                   help="velollm.yaml with backend:, server: and workload: (default: "
                        "./velollm.yaml when it exists)")
    p.add_argument("--backend", metavar="NAME", help="the kind of server (default: the "
                   "config's; llamacpp when only --model is given)")
    p.add_argument("--model", type=Path, metavar="FILE.gguf|NAME", help="the model to tune "
                   "with: a GGUF file for llama-server, a name for Ollama (default: the first "
                   "of server.models, for Ollama of models:)")
    p.add_argument("--binary", type=Path, metavar="PATH", help="the server binary (default: "
                   "server.binary, else llama-server or ollama on PATH)")
    w = p.add_argument_group("workload (overrides velollm.yaml's workload:)")
    w.add_argument("--concurrency", type=int, metavar="N", help="requests at once")
    w.add_argument("--prompt-tokens", type=int, metavar="N", help="tokens per prompt")
    w.add_argument("--output-tokens", type=int, metavar="N", help="tokens per answer")
    objectives = ("throughput", "decode_speed", "ttft_p95", "throughput_under_ttft")
    # the choices in the help, not the usage: spelled out there they overflow 80 columns
    w.add_argument("--objective", choices=objectives, metavar="OBJECTIVE",
                   help="what to maximise: " + ", ".join(objectives))
    w.add_argument("--ttft-limit-ms", type=float, metavar="MS",
                   help="for throughput_under_ttft: the p95 TTFT a candidate must meet")
    w.add_argument("--budget", metavar="TIME", help="time for the search: 90s, 10m, 1h "
                   "(default: workload.budget, else 10m)")
    p.add_argument("--trials", type=int, default=20, metavar="N",
                   help="most candidates measured (default: 20)")
    p.add_argument("--rounds", type=int, default=3, metavar="N",
                   help="rounds of the workload per candidate in the search (default: 3)")
    p.add_argument("--confirm-rounds", type=int, default=3, metavar="N",
                   help="rounds of the side-by-side comparison that picks the winner "
                        "(default: 3)")
    p.add_argument("--write", action="store_true",
                   help="write the winner into velollm.yaml as pins (a backup is kept)")
    p.add_argument("--out", type=Path, metavar="FILE", help="also write the JSON result to FILE")


def run(args: argparse.Namespace) -> int:
    import tempfile

    from velollm.app.tuning import tune
    from velollm.report import tune as report

    with tempfile.TemporaryDirectory(prefix="velollm-tune-") as work:
        result = tune(args, Path(work), OUT.info)
    doc = report.document(result)
    if args.out is not None:
        from velollm.report.bench import write_json_atomic

        write_json_atomic(args.out, doc)
    if OUT.json_mode:
        OUT.json(doc)
    else:
        for line in report.render(result):
            OUT.line(line)
    return 130 if result.search.interrupted else 0
