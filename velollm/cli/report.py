"""`velollm report`: one self-contained HTML file comparing benchmark and verify runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from velollm.output import OUT

HELP = "write one self-contained HTML file comparing benchmark and verify runs"


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "report", parents=[common], help=HELP,
        description=HELP + ": charts and tables of decode and prefill tokens/s and TTFT with "
                           "95% confidence intervals, and each run's settings and hardware. "
                           "The file needs neither velollm nor a network to open. --json prints "
                           "the comparison data instead.")
    p.add_argument("runs", nargs="*", type=Path, metavar="RUN.json",
                   help="files of `velollm benchmark --out`, `velollm verify --json`, or the "
                        "runs velollm keeps (default: the last --last kept runs)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="the HTML file to write (default: velollm-report.html)")
    p.add_argument("--last", type=int, default=5, metavar="N",
                   help="without files: the last N runs velollm kept (default: 5)")


def run(args: argparse.Namespace) -> int:
    from velollm.errors import UsageError
    from velollm.io import runs
    from velollm.report.runs import comparison

    if args.last < 1:
        raise UsageError(f"--last must be at least 1, got {args.last}")
    if args.runs:
        records = [(path.name, runs.load_record(path)) for path in args.runs]
    else:
        kept = runs.stored(last=args.last)
        if not kept:
            raise runs.RunFileError(
                f"no runs given, and velollm has kept none yet in {runs.runs_dir()}",
                hint="run `velollm benchmark` first, or name files: "
                     "`velollm report RUN.json -o report.html`")
        records = [(k.path.name, k.record) for k in kept]
    data = comparison(records)
    if OUT.json_mode:
        OUT.json({"status": "ok", **data})
        return 0
    from velollm.io.atomic import atomic_write
    from velollm.report.html import report_page

    out = (args.output or Path("velollm-report.html")).expanduser()
    atomic_write(out, report_page(data).encode("utf-8"), 0o644)
    OUT.info(f"wrote {out} ({len(records)} run(s)); open it in a browser, no network needed")
    return 0
