"""Client overhead of `velollm benchmark`: client wall time minus the server's total_duration.

usage: python benchmarks/client_overhead.py [--host URL --model M] [--requests 20] [--num-predict N]
                                            [--bench-model]

Without --host it starts a real Ollama with the tiny test model (tests/realserver.py provisions
it); --bench-model uses the 7 MB "bench" model instead (slower tokens, closer to a real model).
Target: overhead < 0.5 % of the client wall time. The figure is an upper bound for real models:
the per-request cost is fixed plus a little per streamed chunk, while a real model spends far more
time per token than the tiny one.
"""

from __future__ import annotations

import argparse
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
from velollm.bench.runner import run_request
from velollm.bench.suites import Scenario


def measure(url: str, model: str, requests: int, num_predict: int) -> None:
    client = OllamaClient(url)
    scenario = Scenario("overhead", "Tell a story about a bicycle.", num_predict)
    run_request(client, model, scenario, -1, warmup=True)  # load the model
    samples = [run_request(client, model, scenario, i) for i in range(requests)]
    ok = [s for s in samples if s.ok and s.total_s]
    over = [s.wall_s - (s.total_s or 0.0) for s in ok]
    share = [o / s.wall_s for o, s in zip(over, ok, strict=True)]
    tokens = statistics.median(s.eval_count or 0 for s in ok)
    print(f"{len(ok)}/{requests} requests of {tokens:.0f} tokens on {model} at {url}")
    print(f"client wall    median {statistics.median(s.wall_s for s in ok) * 1000:8.2f} ms")
    print(f"server total   median {statistics.median(s.total_s or 0 for s in ok) * 1000:8.2f} ms")
    print(f"overhead       median {statistics.median(over) * 1000:8.3f} ms  "
          f"(min {min(over) * 1000:.3f}, max {max(over) * 1000:.3f})")
    print(f"overhead share median {statistics.median(share):8.3%}  (target < 0.5 %)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host")
    ap.add_argument("--model", default=realserver.MODEL)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--num-predict", type=int, default=128)
    ap.add_argument("--bench-model", action="store_true")
    args = ap.parse_args()
    if args.host:
        measure(args.host, args.model, args.requests, args.num_predict)
        return 0
    runtime = realserver.find_runtime()
    if isinstance(runtime, str):
        print(runtime, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        if args.bench_model:
            gguf = Path(tmp) / "bench.gguf"
            subprocess.run([sys.executable, str(realserver.REALRT / "make_tiny_gguf.py"),
                            str(gguf), "--embd", "256", "--layers", "4", "--ff", "768", "--f16"],
                           check=True, capture_output=True)
            runtime = replace(runtime, gguf=gguf)
        factory = realserver.ServerFactory(runtime, Path(tmp))
        try:
            server = factory()
            measure(server.base_url, realserver.MODEL, args.requests, args.num_predict)
        finally:
            factory.stop_all()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
