#!/usr/bin/env python3
"""Startup cost of the CLI: median wall time and peak RSS of

    python3 -c pass          the floor every Python CLI pays (the same interpreter)
    velollm --version        target: <= 2x the bare interpreter (velollm/entry.py imports nothing)
    velollm detect --json    target: <= 100 ms on a 2-core machine without GPU

The commands take turns (one run of each, then the next round), so a noisy neighbour on a shared
machine slows all of them alike. Each run is a child; os.wait4 gives its own peak RSS (ru_maxrss).
PYTHONDONTWRITEBYTECODE is dropped for the children so the warm-up run caches bytecode, as
`pip install` does: otherwise every run recompiles every module and measures the compiler.
Usage: python3 benchmarks/startup.py [-n 15] [--velollm "velollm"]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall ms, peak RSS KiB) of one run of argv."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = (time.perf_counter() - start) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{shlex.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_maxrss  # KiB on Linux


def measure(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float, int]]:
    """name -> (median wall ms, max wall ms, peak RSS KiB), the commands alternating per round."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    walls: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, list[int]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="velollm-startup-") as scratch:
        # a scratch HOME: nothing of the real one is read or written
        env.update(HOME=scratch, XDG_CONFIG_HOME=f"{scratch}/config",
                   XDG_STATE_HOME=f"{scratch}/state", XDG_CACHE_HOME=f"{scratch}/cache")
        for i in range(runs + 1):
            for name, argv in commands.items():
                wall, rss = run_once(argv, env)
                if i:  # the first round warms the page cache and .pyc files
                    walls[name].append(wall)
                    peaks[name].append(rss)
    return {name: (statistics.median(walls[name]), max(walls[name]), max(peaks[name]))
            for name in commands}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=15)
    parser.add_argument("--velollm", help="how to start velollm (default: the `velollm` script "
                        "beside this interpreter, else `python -m velollm`)")
    args = parser.parse_args()
    beside = Path(sys.executable).parent / "velollm"  # the same environment's console script
    velollm = (shlex.split(args.velollm) if args.velollm else
               [str(beside)] if beside.exists() else [sys.executable, "-m", "velollm"])
    commands = {
        "python3 -c pass": [sys.executable, "-c", "pass"],
        "velollm --version": [*velollm, "--version"],
        "velollm detect --json": [*velollm, "detect", "--json"],
    }
    print(f"{os.cpu_count()} CPUs, {args.runs} runs each, velollm = {shlex.join(velollm)}")
    print(f"{'command':<24}{'median ms':>10}{'max ms':>9}{'peak RSS MiB':>14}")
    results = measure(commands, args.runs)
    for name, (median, worst, rss) in results.items():
        print(f"{name:<24}{median:>10.1f}{worst:>9.1f}{rss / 1024:>14.1f}")
    ratio = results["velollm --version"][0] / results["python3 -c pass"][0]
    detect_ms = results["velollm detect --json"][0]
    print(f"--version / bare python = {ratio:.2f}x (target <= 2x); "
          f"detect = {detect_ms:.0f} ms (target <= 100 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
