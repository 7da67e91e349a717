"""The search of `velollm tune` with recorded measurements (no server, no timings): pruned
candidates never start, a candidate is measured once, the clearly worse stop early, the best of
the recorded scores wins, and ^C keeps what was measured."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from velollm.bench.tuner import confirm, search
from velollm.core.tune_space import Candidate, Space, key

SPACE = Space({"parallel": (1, 2, 4), "threads": (1, 2), "kv_cache_type": ("f16", "q8_0")})


def recorded(candidate: Candidate) -> float:
    """A made-up landscape: parallel helps, threads 2 hurts, q8_0 helps a little."""
    base = {1: 10.0, 2: 18.0, 4: 30.0}[int(candidate["parallel"])]  # type: ignore[call-overload]
    base *= 0.5 if candidate["threads"] == 2 else 1.0
    return base + (1.0 if candidate["kv_cache_type"] == "q8_0" else 0.0)


class Recorder:
    def __init__(self, fail: Callable[[Candidate], bool] = lambda _c: False) -> None:
        self.launched: list[str] = []
        self.rounds = 0
        self.fail = fail

    @contextlib.contextmanager
    def launch(self, candidate: Candidate) -> Iterator[Callable[[], float | None]]:
        self.launched.append(key(candidate))

        def run_round() -> float | None:
            self.rounds += 1
            return None if self.fail(candidate) else recorded(candidate)

        yield run_round


def no_prune(_c: Candidate) -> str | None:
    return None


def test_the_best_recorded_candidate_wins_and_each_runs_once() -> None:
    rec = Recorder()
    found = search(SPACE, no_prune, rec.launch, rounds=2, budget_s=3600, max_trials=12)
    assert len(rec.launched) == len(set(rec.launched)) == SPACE.size()
    full = [t for t in found.trials if len(t.scores) == 2]
    best = max(full, key=lambda t: sum(t.scores))
    assert best.candidate == {"parallel": 4, "threads": 1, "kv_cache_type": "q8_0"}


def test_pruned_candidates_never_start_and_keep_their_reason() -> None:
    rec = Recorder()

    def prune(c: Candidate) -> str | None:
        return "needs 9 GiB, 8 GiB available" if c["parallel"] == 4 else None

    found = search(SPACE, prune, rec.launch, rounds=1, budget_s=3600, max_trials=50)
    assert all("parallel=4" not in name for name in rec.launched)
    pruned = [t for t in found.trials if t.pruned]
    assert pruned and all(t.pruned == "needs 9 GiB, 8 GiB available" for t in pruned)
    assert len(rec.launched) == 8  # every runnable candidate, each once


def test_max_trials_bounds_the_measurements() -> None:
    rec = Recorder()
    search(SPACE, no_prune, rec.launch, rounds=1, budget_s=3600, max_trials=3)
    assert len(rec.launched) == 3


def test_clearly_worse_candidates_stop_before_their_last_round() -> None:
    rec = Recorder()
    found = search(SPACE, no_prune, rec.launch, rounds=4, budget_s=3600, max_trials=12)
    stopped = [t for t in found.trials if t.stopped_early]
    assert stopped, "the median pruner stops some of twelve candidates with spread scores"
    assert all(len(t.scores) < 4 for t in stopped)
    assert rec.rounds < 12 * 4


def test_a_candidate_whose_requests_fail_is_an_error_not_a_winner() -> None:
    rec = Recorder(fail=lambda c: c["parallel"] == 4)
    found = search(SPACE, no_prune, rec.launch, rounds=1, budget_s=3600, max_trials=12)
    failed = [t for t in found.trials if t.error]
    assert failed and all(t.candidate["parallel"] == 4 for t in failed)


def test_interrupt_keeps_what_was_measured() -> None:
    rec = Recorder()
    calls = {"n": 0}

    @contextlib.contextmanager
    def launch(candidate: Candidate) -> Iterator[Callable[[], float | None]]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        with rec.launch(candidate) as run_round:
            yield run_round

    found = search(SPACE, no_prune, launch, rounds=1, budget_s=3600, max_trials=12)
    assert found.interrupted
    assert sum(1 for t in found.trials if t.scores) == 2


def test_confirm_alternates_the_candidates_round_by_round() -> None:
    order: list[str] = []

    @contextlib.contextmanager
    def launch(candidate: Candidate) -> Iterator[Callable[[], float | None]]:
        def run_round() -> float | None:
            order.append(key(candidate))
            return recorded(candidate)

        yield run_round

    a = {"parallel": 4, "threads": 1, "kv_cache_type": "f16"}
    b = {"parallel": 1, "threads": 1, "kv_cache_type": "f16"}
    scores = confirm([("winner", a), ("defaults", b)], launch, rounds=3)
    assert order == [key(a), key(b)] * 3
    assert scores == {"winner": [30.0] * 3, "defaults": [10.0] * 3}


@pytest.mark.parametrize("rounds", [1, 2])
def test_the_search_is_reproducible_with_a_seed(rounds: int) -> None:
    first, second = Recorder(), Recorder()
    search(SPACE, no_prune, first.launch, rounds=rounds, budget_s=3600, max_trials=6, seed=3)
    search(SPACE, no_prune, second.launch, rounds=rounds, budget_s=3600, max_trials=6, seed=3)
    assert first.launched == second.launched
