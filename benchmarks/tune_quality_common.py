"""What benchmarks/tune_quality.py (llama-server) and tune_quality_ollama.py share: the oracle
(every runnable candidate of the space, plus the server's defaults and velollm's rule-based
choice, all servers up at once and the rounds taking turns, so load drift on a shared machine
falls on every candidate alike), `velollm tune`'s own pipeline (velollm/bench/tune_pipeline.run:
search, side-by-side confirmation, winner choice) on the same space, and the figures."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

from velollm.bench.tune_pipeline import DEFAULTS, TOP, Outcome, run
from velollm.bench.tuner import confirm
from velollm.core.tune_space import Candidate, key

COST_GOAL = 0.30  # tune's rounds as a share of the sweep's
QUALITY_GOAL = 0.95  # the winner's objective as a share of the sweep's best


def add_arguments(parser: argparse.ArgumentParser, confirm_rounds: int) -> None:
    parser.add_argument("--oracle-rounds", type=int, default=3,
                        help="rounds per candidate in the sweep (default: 3)")
    parser.add_argument("--trials", type=int, default=None,
                        help="tune's search trials (default: the most that keep tune's "
                             "worst-case rounds within 30 %% of the sweep's)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="tune's rounds per search trial (default: 1)")
    parser.add_argument("--confirm-rounds", type=int, default=confirm_rounds,
                        help=f"tune's side-by-side rounds (default: {confirm_rounds})")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="the search's seed (default: 0)")


def default_trials(sweep_rounds: int, search_rounds: int, confirm_rounds: int) -> int:
    """The most trials for which tune's cost stays within the goal even when the confirmation
    measures all it may: the search's best TOP, the rule-based choice and the defaults."""
    left = int(COST_GOAL * sweep_rounds) - (TOP + 2) * confirm_rounds
    return max(2, left // search_rounds)


def within(space: Any, candidate: Candidate, defaults: Candidate) -> Candidate:
    """`candidate` moved into the space: a value the space lacks becomes its nearest one, a
    setting the space fixes (one value) is set to it, one it leaves to the server is spelled
    out with the server's default (`defaults`), a setting the space does not vary is dropped.
    The benchmark compares tune with a sweep of the same space: a rule-based choice outside it
    (threads=2 where the space fixes 1 thread) would win by the difference alone, and one that
    is a candidate of the space under another name would be measured twice, its two figures
    differing by the machine's noise alone."""
    out: dict[str, object] = {}
    for name, values in space.dimensions.items():
        value = candidate.get(name, values[0] if len(values) == 1 else defaults.get(name))
        if value is None:
            continue
        if value not in values:
            numeric = all(isinstance(v, (int, float)) for v in (*values, value))
            value = min(values, key=lambda v: abs(v - value)) if numeric else values[0]
        out[name] = value
    return out


class SameSpace:
    """The backend's tuning with its rule-based choice inside the space (see within)."""

    def __init__(self, tuning: Any, defaults: Candidate) -> None:
        self._tuning = tuning
        self._defaults = defaults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tuning, name)

    def rule_based(self) -> Candidate:
        return within(self._tuning.space, self._tuning.rule_based(), self._defaults)


def compare(tuning: Any, runnable: Sequence[Candidate], args: argparse.Namespace,
            defaults: Candidate) -> int:
    """Run the oracle, then tune's pipeline, and print how close and how cheap tune is.
    `defaults`: the server's own values of the space's settings (from its source)."""
    print(f"rule-based choice: {key(tuning.rule_based()) or 'defaults'}")
    tuning = SameSpace(tuning, defaults)
    rule_based = tuning.rule_based()
    print(f"inside the space:  {key(rule_based) or 'defaults'}")
    everyone: dict[str, Candidate] = {key(c): c for c in runnable}
    everyone.setdefault(key(rule_based), rule_based)
    everyone.setdefault(DEFAULTS, {})
    sweep_rounds = len(runnable) * args.oracle_rounds
    trials = args.trials or default_trials(sweep_rounds, args.rounds, args.confirm_rounds)
    print(f"oracle: {len(runnable)} of {tuning.space.size()} candidates run (the rest pruned) "
          f"+ defaults + rule-based, x {args.oracle_rounds} rounds, side by side")
    started = time.monotonic()
    scores = confirm(list(everyone.items()), tuning.launch, args.oracle_rounds, print)
    oracle_s = time.monotonic() - started
    means = {name: statistics.fmean(s) for name, s in scores.items() if s}
    print(f"\ntune: {trials} trials x {args.rounds} round(s), then {args.confirm_rounds} "
          "side-by-side round(s)")
    outcome = run(tuning, trials=trials, rounds=args.rounds, confirm_rounds=args.confirm_rounds,
                  budget_s=3600, seed=args.seed, progress=print)
    _report(means, runnable, rule_based, outcome, sweep_rounds, oracle_s)
    return 0


def _report(means: dict[str, float], runnable: Sequence[Candidate], rule_based: Candidate,
            outcome: Outcome, sweep_rounds: int, oracle_s: float) -> None:
    def name(k: str) -> str:
        return ("rule-based " if k == key(rule_based) else "") + k

    print("\noracle (mean of the rounds, side by side):")
    for k in sorted(means, key=means.__getitem__, reverse=True):
        print(f"  {means[k]:8.2f}  {name(k)}")
    best = max((key(c) for c in runnable if key(c) in means), key=means.__getitem__)
    print(f"\noracle best   {best}: {means[best]:.2f}")
    if outcome.winner is None or key(outcome.winner) not in means:
        print("tune found no winner the oracle measured")
        return
    won = means[key(outcome.winner)]
    print(f"tune winner   {key(outcome.winner)} (from {outcome.winner_label}): {won:.2f} in the "
          f"oracle's measurement = {won / means[best]:.1%} of the best (goal >= "
          f"{QUALITY_GOAL:.0%})")
    searched = sum(len(t.scores) for t in outcome.search.trials)
    print(f"tune cost     {outcome.rounds} rounds ({searched} search + "
          f"{outcome.rounds - searched} side by side) = {outcome.rounds / sweep_rounds:.0%} of "
          f"the sweep's {sweep_rounds} (goal <= {COST_GOAL:.0%})")
    print(f"tune wall     {outcome.elapsed_s:.0f} s = {outcome.elapsed_s / oracle_s:.0%} of the "
          f"oracle's {oracle_s:.0f} s (server start-ups included; the oracle's also runs the "
          "defaults and the rule-based choice)")
    for label, k in ((DEFAULTS, DEFAULTS), ("rule-based", key(rule_based))):
        if k in means:  # oriented so that > 1 is better (ttft_p95 scores are negative)
            print(f"best / {label:<10} {_gain(means[best], means[k])}   winner / {label:<10} "
                  f"{_gain(won, means[k])}")


def _gain(a: float, b: float) -> str:
    if not a or not b:
        return "-"
    return f"{a / b if a > 0 else b / a:.2f}x"
