#!/usr/bin/env python3
"""Startup cost of the CLI: median wall time and peak RSS of

    python3 -c pass          the floor every Python CLI pays
    velollm --version        target: <= 2.5x the bare interpreter (no heavy imports)
    velollm detect --json    target: <= 200 ms on a 2-core machine without GPU

Each command runs N times as a child; os.wait4 gives that child's own peak RSS (ru_maxrss).
PYTHONDONTWRITEBYTECODE is dropped for the children so the warm-up run caches bytecode, as
`pip install` does: otherwise every run recompiles every module and measures the compiler.
Usage: python3 benchmarks/startup.py [-n 15] [--velollm "velollm"]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time


def measure(argv: list[str], runs: int) -> tuple[float, float, int]:
    """(median wall ms, max wall ms, peak RSS KiB) over `runs` runs, after one warm-up run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    walls, peaks = [], []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = (time.perf_counter() - start) * 1000
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{shlex.join(argv)} exited {proc.returncode}")
        if i:  # the first run warms the page cache and .pyc files
            walls.append(elapsed)
            peaks.append(usage.ru_maxrss)  # KiB on Linux
    return statistics.median(walls), max(walls), max(peaks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=15)
    parser.add_argument("--velollm", help="how to start velollm (default: the `velollm` script on "
                        "PATH, else `python -m velollm`)")
    args = parser.parse_args()
    velollm = (shlex.split(args.velollm) if args.velollm else
               [shutil.which("velollm")] if shutil.which("velollm") else
               [sys.executable, "-m", "velollm"])
    commands = {
        "python3 -c pass": [sys.executable, "-c", "pass"],
        "velollm --version": [*velollm, "--version"],
        "velollm detect --json": [*velollm, "detect", "--json"],
    }
    print(f"{os.cpu_count()} CPUs, {args.runs} runs each, velollm = {shlex.join(velollm)}")
    print(f"{'command':<24}{'median ms':>10}{'max ms':>9}{'peak RSS MiB':>14}")
    results = {}
    for name, argv in commands.items():
        median, worst, rss = measure(argv, args.runs)
        results[name] = median
        print(f"{name:<24}{median:>10.1f}{worst:>9.1f}{rss / 1024:>14.1f}")
    ratio = results["velollm --version"] / results["python3 -c pass"]
    detect_ms = results["velollm detect --json"]
    print(f"--version / bare python = {ratio:.2f}x (target <= 2.5x); "
          f"detect = {detect_ms:.0f} ms (target <= 200 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
