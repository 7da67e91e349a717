#!/usr/bin/env python3
"""How good is `velollm tune`? Its winner against an exhaustive sweep of the same space.

On a real llama-server with SmolLM2-135M (the test runtime: tests/realllama.py provisions both):
1. the oracle: every candidate of a small space, plus the server's defaults and velollm's
   rule-based choice, all servers up at once and the rounds taking turns (so load drift on a
   shared machine falls on every candidate alike);
2. the search: bench/tuner.search on the same space with a trial budget.
Prints the tune winner's objective (as the oracle measured it) as a share of the oracle's best
(goal >= 95 %), tune's cost (rounds run) as a share of the sweep's (goal <= 30 %), and the gains
of the oracle's best over the defaults and the rule-based choice.

usage: python benchmarks/tune_quality.py [--rounds 3] [--trials 4] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.realllama import find_llama_runtime
from velollm.backends.llamacpp.tune_run import launcher
from velollm.bench.tuner import confirm, search
from velollm.core.tune_space import Candidate, Space, key
from velollm.core.workload import Workload


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    runtime = find_llama_runtime()
    if isinstance(runtime, str):
        raise SystemExit(runtime)
    workload = Workload(concurrency=args.concurrency, prompt_tokens=64, output_tokens=32)
    space = Space({"parallel": (1, 2), "ubatch_size": (128, 512), "batch_size": (512, 2048),
                   "kv_cache_type": ("f16", "q8_0"), "flash_attention": ("on",),
                   "threads": (1,)})
    rules: Candidate = {"parallel": args.concurrency, "threads": 1, "flash_attention": "on"}
    with tempfile.TemporaryDirectory() as work:
        launch = launcher(runtime.server, runtime.model, workload, Path(work))
        everyone = [(key(c), c) for c in space.all()] + [("defaults", {}), ("rule-based", rules)]
        print(f"oracle: {len(everyone)} candidates x {args.rounds} rounds, side by side")
        oracle = confirm(everyone, launch, args.rounds, print)
        means = {label: statistics.fmean(s) for label, s in oracle.items() if s}
        counted = _counting(launch)
        found = search(space, lambda _c: None, counted.launch, rounds=args.rounds,
                       budget_s=3600, max_trials=args.trials, progress=print)
    full = [t for t in found.trials if len(t.scores) == args.rounds]
    winner = max(full, key=lambda t: statistics.fmean(t.scores))
    best_label = max((lb for lb in means if lb not in ("defaults", "rule-based")),
                     key=lambda lb: means[lb])
    share = means[winner.name] / means[best_label]
    cost = counted.rounds / (len(space.all()) * args.rounds)
    print(f"\noracle best   {best_label}: {means[best_label]:.1f} t/s")
    print(f"tune winner   {winner.name}: {means[winner.name]:.1f} t/s in the oracle's "
          f"measurement = {share:.1%} of the best (goal >= 95 %)")
    print(f"tune cost     {counted.rounds} rounds = {cost:.0%} of the sweep's (goal <= 30 %)")
    for other in ("defaults", "rule-based"):
        if other in means:
            print(f"best / {other:<10} {means[best_label] / means[other]:.2f}x")
    return 0


class _counting:
    def __init__(self, launch: Callable[[Candidate], contextlib.AbstractContextManager[
            Callable[[], float | None]]]) -> None:
        self._launch = launch
        self.rounds = 0

    @contextlib.contextmanager
    def launch(self, candidate: Candidate) -> Iterator[Callable[[], float | None]]:
        with self._launch(candidate) as run_round:
            def counted() -> float | None:
                self.rounds += 1
                return run_round()

            yield counted


if __name__ == "__main__":
    raise SystemExit(main())
