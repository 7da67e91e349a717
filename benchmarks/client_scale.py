#!/usr/bin/env python3
"""Is the benchmark client ever the bottleneck? velollm's load generator against a local server
that emits tokens at a fixed, known rate (tests/fakestream.py, in its own process),
at concurrency 1 to 256, in Ollama's and llama-server's formats.

Prints per level: the throughput velollm measures as a share of the known rate (the goal: >= 98 %
up to concurrency 64 on a 2-core machine), the client's CPU per 1,000 tokens, and whether the
client's self-check fired (it must fire before the share drops below 95 %).
usage: python benchmarks/client_scale.py [--rate 20] [--tokens 64] [--most 256]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from velollm.backends.llamacpp.streamfmt import LlamaStream
from velollm.backends.ollama.streamfmt import OllamaStream
from velollm.bench.load import LoadSpec, run_shape


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20.0, help="tokens/s of each stream")
    parser.add_argument("--tokens", type=int, default=64, help="tokens per stream")
    parser.add_argument("--most", type=int, default=256)
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fakestream.py"),
                               str(port), str(args.rate)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        # a stream of n tokens at rate r lasts (n - 1) / r from its first token to its last
        per_stream = args.tokens / ((args.tokens - 1) / args.rate)
        print(f"{os.cpu_count()} CPUs; each stream: {args.tokens} tokens at {args.rate:g}/s")
        print(f"{'format':<9}{'conc.':>6}{'measured t/s':>14}{'known t/s':>11}{'share':>8}"
              f"{'CPU ms/1k tok':>15}{'loop lag p99':>14}  self-check")
        for name, fmt in (("ollama", OllamaStream()), ("llamacpp", LlamaStream())):
            level = 1
            while level <= args.most:
                spec = LoadSpec("fake", "hello", args.tokens, requests=level)
                run = run_shape(base, "fake server", fmt, spec, "concurrency", [level])[0]
                # known: every stream decodes at the rate; the run also waits for the slowest
                # first token, so compare the decode span each stream had
                spans = [r.arrivals[-1] - r.arrivals[0] for r in run.results if r.ok
                         and len(r.arrivals) > 1]
                measured = sum(len(r.arrivals) - 1 for r in run.results if r.ok
                               and len(r.arrivals) > 1) / max(sum(spans), 1e-9) * level
                known = args.rate * level
                tokens = sum(r.generated for r in run.results if r.ok)
                cpu = run.client_cpu_s * 1000 / max(tokens, 1) * 1000
                check = run.self_check() or "-"
                print(f"{name:<9}{level:>6}{measured:>14.1f}{known:>11.1f}"
                      f"{measured / known:>8.1%}{cpu:>15.2f}{run.lag_p99_ms:>12.1f}ms  "
                      f"{check[:60]}")
                if run.failed:
                    print(f"   {run.failed} failed: {run.as_dict()['problems']}")
                level *= 2
        del per_stream
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
