#!/usr/bin/env python3
"""Aggregate throughput of N concurrent clients on a real Ollama with OLLAMA_NUM_PARALLEL=1 vs 4.

usage: python3 benchmarks/num_parallel.py [--parallel 1 4] [--rounds 5] [--concurrency 4]
                                          [--num-predict 256] [--tiny]

Starts one server per NUM_PARALLEL value (tests/realserver.py provisions the Ollama) with the 7 MB
"bench" model of tests/realrt/make_tiny_gguf.py: the 533 KB tiny model runs at thousands of
tokens/s, so a run with it (--tiny) measures the Python client as much as the server. The rounds
run alternately on each server, so a burst of load on the machine hits every setting alike.
Prints each setting's median and best aggregate tokens/s (the best is the least disturbed round)
and their ratio to the first setting. Seen on 2 shared, busy cores (load 5-9): 4 slots gave 2.0x
to 2.8x the median aggregate tok/s of 1 slot. On a busy machine the figures vary (a warning says
so). tests/bench/test_bench_realserver.py asserts the mechanism (concurrent requests answered
together, not queued), never a speed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import realserver
from velollm.backends.ollama.client import OllamaClient
from velollm.bench.runner import run_scenario
from velollm.bench.suites import Scenario

BENCH_MODEL = ("--embd", "256", "--layers", "4", "--ff", "768", "--f16")  # 7 MB, 3.6 M params


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 4],
                    help="OLLAMA_NUM_PARALLEL values to compare (default: 1 4)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=4, help="clients per round")
    ap.add_argument("--num-predict", type=int, default=256, help="tokens per request")
    ap.add_argument("--tiny", action="store_true",
                    help="the 533 KB tiny model instead of the 7 MB bench model (its thousands of "
                         "tokens/s make the run measure the client as much as the server)")
    args = ap.parse_args()
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5 * cores:
        print(f"warning: load average {load:.1f} on {cores} cores before the run: the machine is "
              "busy and the figures are not comparable", file=sys.stderr)
    runtime = realserver.find_runtime()
    if isinstance(runtime, str):
        print(runtime, file=sys.stderr)
        return 1
    scenario = Scenario("concurrent", "Write one sentence about the mountains.", args.num_predict,
                        concurrency=args.concurrency)
    tps: dict[int, list[float]] = {p: [] for p in args.parallel}
    with tempfile.TemporaryDirectory(prefix="velollm-parallel-") as tmp:
        if not args.tiny:  # served under the same name, "tiny"
            gguf = Path(tmp) / "bench.gguf"
            subprocess.run([sys.executable, str(realserver.REALRT / "make_tiny_gguf.py"),
                            str(gguf), *BENCH_MODEL], check=True, capture_output=True)
            runtime = replace(runtime, gguf=gguf)
        factory = realserver.ServerFactory(runtime, Path(tmp))
        try:
            urls = {p: factory({"OLLAMA_NUM_PARALLEL": str(p)}).base_url for p in args.parallel}
            for rnd in range(args.rounds + 1):  # round 0 loads the model: a warm-up
                for p in args.parallel if rnd % 2 else reversed(args.parallel):
                    url = urls[p]
                    result = run_scenario(OllamaClient(url), lambda u=url: OllamaClient(u),
                                          realserver.MODEL, scenario, iterations=0 if rnd == 0
                                          else 1, warmup=1 if rnd == 0 else 0)
                    failed = sum(r.failed for r in result.rounds)
                    if failed:
                        print(f"NUM_PARALLEL={p}: {failed} requests failed", file=sys.stderr)
                        return 1
                    tps[p].extend(r.aggregate_tps for r in result.rounds)
        finally:
            factory.stop_all()
    first = args.parallel[0]
    base_median, base_best = statistics.median(tps[first]), max(tps[first])
    print(f"{args.concurrency} clients x {args.num_predict} tokens, {args.rounds} rounds each, "
          f"{'tiny' if args.tiny else 'bench'} model ({runtime.source})")
    print(f"{'NUM_PARALLEL':>12} {'median tok/s':>13} {'best tok/s':>11} {'x median':>9} "
          f"{'x best':>7}")
    for p in args.parallel:
        median, best = statistics.median(tps[p]), max(tps[p])
        print(f"{p:>12} {median:>13.0f} {best:>11.0f} {median / base_median:>9.2f} "
              f"{best / base_best:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
