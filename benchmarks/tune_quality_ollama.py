#!/usr/bin/env python3
"""How good is `velollm tune` on Ollama? Its winner against an exhaustive sweep of the same space.

On the real Ollama of the test suite (tests/realserver.py provisions 0.5.4 CPU) with a GGUF model
created into a scratch store (default: the suite's tiny model; give a real one with --gguf, e.g.
SmolLM2-135M):
1. the oracle: every candidate of the space that the rules and the memory model let run, plus
   Ollama's defaults and velollm's rule-based choice, all servers up at once and the rounds
   taking turns (so load drift on a shared machine falls on every candidate alike);
2. the search: bench/tuner.search on the same space and pruning with a trial budget.
Prints the tune winner's objective (as the oracle measured it) as a share of the oracle's best
(goal >= 95 %), tune's cost (rounds run) as a share of the sweep's (goal <= 30 %), and the gains
of the oracle's best over the defaults and the rule-based choice.

usage: python benchmarks/tune_quality_ollama.py [--gguf FILE] [--rounds 3] [--trials 4]
       [--concurrency 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.realserver import find_runtime
from velollm.app.facts import load_hardware
from velollm.backends.base import TuneRequest
from velollm.backends.ollama.backend import OllamaBackend
from velollm.backends.ollama.tune_run import OllamaRuntime, serve
from velollm.bench.tuner import confirm, search
from velollm.core.tune_space import Candidate, key
from velollm.core.workload import Workload

MODEL = "bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", type=Path, help="the model (default: the suite's tiny one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    runtime = find_runtime()
    if isinstance(runtime, str):
        raise SystemExit(runtime)
    os.environ.update(runtime.env)  # the provisioned build's libraries, for every server
    workload = Workload(concurrency=args.concurrency, prompt_tokens=64, output_tokens=32)
    with tempfile.TemporaryDirectory() as work:
        store = Path(work) / "models"
        store.mkdir()
        _create(OllamaRuntime(runtime.binary, MODEL, store, Path(work)), args.gguf or runtime.gguf)
        os.environ["OLLAMA_MODELS"] = str(store)
        tuning = OllamaBackend().tuning(TuneRequest(workload, load_hardware(None), Path(work),
                                                    Path(MODEL), runtime.binary))
        print(f"{tuning.described['build']}, {args.gguf or runtime.gguf}")
        runnable = [c for c in tuning.space.all() if tuning.prune(c) is None]
        everyone = [(key(c), c) for c in runnable] + [("defaults", {}),
                                                      ("rule-based", tuning.rule_based())]
        print(f"oracle: {len(runnable)} of {tuning.space.size()} candidates run (the rest "
              f"pruned) + defaults + rule-based, x {args.rounds} rounds, side by side")
        oracle = confirm(everyone, tuning.launch, args.rounds, print)
        means = {label: statistics.fmean(s) for label, s in oracle.items() if s}
        counted = _counting(tuning.launch)
        found = search(tuning.space, tuning.prune, counted.launch, rounds=args.rounds,
                       budget_s=3600, max_trials=args.trials, progress=print)
    full = [t for t in found.trials if len(t.scores) == args.rounds]
    winner = max(full, key=lambda t: statistics.fmean(t.scores))
    best = max((lb for lb in means if lb not in ("defaults", "rule-based")), key=means.__getitem__)
    cost = counted.rounds / (len(runnable) * args.rounds)
    print("\noracle (mean of the rounds, side by side):")
    for label in sorted(means, key=means.__getitem__, reverse=True):
        print(f"  {means[label]:6.1f} t/s  {label}")
    print(f"\noracle best   {best}: {means[best]:.1f} t/s")
    print(f"tune winner   {winner.name}: {means[winner.name]:.1f} t/s in the oracle's "
          f"measurement = {means[winner.name] / means[best]:.1%} of the best (goal >= 95 %)")
    print(f"tune cost     {counted.rounds} rounds = {cost:.0%} of the sweep's (goal <= 30 %)")
    for other in ("defaults", "rule-based"):
        if other in means:
            print(f"best / {other:<10} {means[best] / means[other]:.2f}x  "
                  f"({other} {means[other]:.1f} t/s)")
    return 0


def _create(runtime: OllamaRuntime, gguf: Path) -> None:
    """`ollama create` the model into the scratch store, through a server of our own."""
    modelfile = runtime.workdir / "Modelfile"
    modelfile.write_text(f"FROM {gguf}\n", encoding="utf-8")
    with serve(runtime, {}, "create") as server:
        env = {**os.environ, "HOME": str(runtime.workdir),
               "OLLAMA_HOST": f"127.0.0.1:{server.port}"}
        subprocess.run([str(runtime.binary), "create", MODEL, "-f", str(modelfile)], env=env,
                       check=True, capture_output=True, timeout=300)


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
