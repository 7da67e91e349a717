"""What `velollm tune` runs, and benchmarks/tune_quality*.py with it: the search, then the best
few of the search measured again side by side with the server's defaults and velollm's
rule-based choice, and the winner picked from that side-by-side measurement.

Why the winner comes from the confirmation and not from the search: the search measures its
candidates one after the other, each in its own minute of a shared machine, so its order of
near-equal candidates is as much the machine's load as theirs. Side by side (servers up
together, rounds taking turns) the drift falls on all of them alike. The rule-based choice is
one of the contenders: tune never recommends what lost to velollm's own rules side by side.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from velollm.bench.tuner import Launch, RunRound, Search, Trial, confirm, search
from velollm.core.tune_space import Candidate, key

if TYPE_CHECKING:
    from velollm.backends.base import Tuning

RULE_BASED, DEFAULTS = "rule-based", "defaults"
# The search's best few that are measured again. One-round search figures on a shared machine
# differ by a few per cent from run to run, as much as near-best candidates differ from each
# other, so the search's first place alone is often a fluke and its second the better one; a
# third place costs another `confirm_rounds` rounds for a candidate that rarely wins.
TOP = 2


@dataclass
class Outcome:
    search: Search
    # label -> (settings, side-by-side scores): "search #1".., "rule-based", "defaults"
    confirmation: dict[str, tuple[Candidate, list[float]]] = field(default_factory=dict)
    winner: Candidate | None = None
    winner_label: str | None = None  # the confirmation's label of the winner ("search" alone:
    #                                  no confirmation ran, the search's best)
    rounds: int = 0  # every round run, the search's and the confirmation's
    elapsed_s: float = 0.0


def mean(scores: list[float]) -> float:
    return statistics.fmean(scores)


def best_measured(found: Search, rounds: int) -> list[Trial]:
    """The search's completely measured candidates, best first."""
    full = [t for t in found.trials if len(t.scores) == rounds and not t.stopped_early]
    return sorted(full, key=lambda t: mean(t.scores), reverse=True)


def contenders(found: Search, rounds: int, rule_based: Candidate, top: int = TOP
               ) -> dict[str, Candidate]:
    """What the confirmation measures: the search's best `top`, the rule-based choice and the
    server's defaults ({}), by label."""
    out: dict[str, Candidate] = {f"search #{i + 1}": t.candidate
                                 for i, t in enumerate(best_measured(found, rounds)[:top])}
    return {**out, RULE_BASED: rule_based, DEFAULTS: {}}


def pick(confirmation: Mapping[str, tuple[Candidate, list[float]]]
         ) -> tuple[str, Candidate] | None:
    """The best side-by-side mean among the search's candidates and the rule-based choice (the
    defaults are the reference, not a recommendation); on a tie the search's listed first."""
    scored = [(label, cand, mean(scores)) for label, (cand, scores) in confirmation.items()
              if label != DEFAULTS and scores]
    if not scored:
        return None
    label, cand, _m = max(scored, key=lambda item: item[2])
    return label, cand


def run(tuning: Tuning, *, trials: int, rounds: int, confirm_rounds: int, budget_s: float,
        top: int = TOP, seed: int = 0, progress: Callable[[str], None] = lambda _m: None
        ) -> Outcome:
    """Search (seeded with the rule-based choice), confirm side by side, pick the winner."""
    started = time.monotonic()
    counter = _RoundCounter(tuning.launch)
    rule_based = tuning.rule_based()
    found = search(tuning.space, tuning.prune, counter.launch, rounds=rounds, budget_s=budget_s,
                   max_trials=trials, seed=seed, seeds=[rule_based], progress=progress)
    out = Outcome(found)
    ranked = best_measured(found, rounds)
    if ranked:
        out.winner, out.winner_label = ranked[0].candidate, "search"
    if ranked and not found.interrupted:
        labelled = contenders(found, rounds, rule_based, top)
        unique: dict[str, tuple[str, Candidate]] = {}
        for label, cand in labelled.items():  # the same settings are measured once
            unique.setdefault(key(cand), (label, cand))
        try:
            scores = confirm(list(unique.values()), counter.launch, confirm_rounds, progress)
        except KeyboardInterrupt:
            found.interrupted = True
        else:
            out.confirmation = {label: (cand, scores.get(unique[key(cand)][0], []))
                                for label, cand in labelled.items()}
            chosen = pick(out.confirmation)
            if chosen is not None:
                out.winner_label, out.winner = chosen
    out.rounds = counter.rounds
    out.elapsed_s = time.monotonic() - started
    return out


class _RoundCounter:
    """Counts the rounds run through a launch (the cost the benchmark compares)."""

    def __init__(self, launch: Launch) -> None:
        self._launch = launch
        self.rounds = 0

    @contextlib.contextmanager
    def launch(self, candidate: Candidate) -> Iterator[RunRound]:
        with self._launch(candidate) as run_round:
            def counted() -> float | None:
                self.rounds += 1
                return run_round()

            yield counted
