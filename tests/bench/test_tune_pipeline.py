"""The pipeline of `velollm tune` with scripted measurements (no server, no timings): the search
starts from the rule-based choice, the winner comes from the side-by-side confirmation and not
from the search's order, the rule-based choice wins when it beats the search's best side by side,
the defaults are a reference and never the winner, and every round is counted."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from velollm.bench.tune_pipeline import DEFAULTS, RULE_BASED, pick, run
from velollm.bench.tuner import seed_params, startup_trials
from velollm.core.tune_space import Candidate, Space, key

SPACE = Space({"parallel": (1, 2), "batch_size": (512, 2048), "kv_cache_type": ("f16", "q8_0")})
RULES = {"parallel": 2, "batch_size": 2048, "kv_cache_type": "f16"}


def landscape(c: Candidate) -> float:
    """Scores of a made-up machine: two slots help most, a larger batch and an f16 cache a
    little (the rule-based choice is the best point of the space)."""
    if not c:
        return 15.0  # the server's defaults
    return (20.0 if c.get("parallel") == 2 else 10.0) + \
        (1.0 if c.get("batch_size") == 2048 else 0.0) + \
        (0.5 if c.get("kv_cache_type") == "f16" else 0.0)


@dataclass
class FakeTuning:
    """A backend's tuning whose servers return scripted scores: `search_scores` while one
    server is up (the search), `confirm_scores` while several are (side by side)."""

    rules: Candidate = field(default_factory=lambda: dict(RULES))
    search_scores: Callable[[Candidate], float] = landscape
    confirm_scores: Callable[[Candidate], float] = landscape
    space: Space = SPACE
    launched: list[str] = field(default_factory=list)
    up: int = 0

    def prune(self, _candidate: Candidate) -> str | None:
        return None

    def rule_based(self) -> Candidate:
        return self.rules

    @contextlib.contextmanager
    def launch(self, candidate: Candidate) -> Iterator[Callable[[], float | None]]:
        self.launched.append(key(candidate))
        self.up += 1
        try:
            yield lambda: (self.confirm_scores if self.up > 1 else self.search_scores)(candidate)
        finally:
            self.up -= 1


def test_the_search_starts_from_the_rule_based_choice() -> None:
    tuning = FakeTuning()
    out = run(tuning, trials=3, rounds=1, confirm_rounds=1, budget_s=3600)
    assert tuning.launched[0] == key(RULES)
    assert out.search.trials[0].candidate == RULES


def test_a_rule_based_value_outside_the_space_is_left_to_the_sampler() -> None:
    assert seed_params(SPACE, {"parallel": 2, "batch_size": 4096, "threads": 8}) == {
        "parallel": 2}
    assert seed_params(Space({"flag": (True, False)}), {"flag": 1}) == {}  # 1 is not True
    tuning = FakeTuning(rules={"parallel": 2, "batch_size": 4096})
    run(tuning, trials=2, rounds=1, confirm_rounds=1, budget_s=3600)
    first = dict(part.split("=") for part in tuning.launched[0].split(", "))
    assert first["parallel"] == "2" and first["batch_size"] in ("512", "2048")


def test_tpe_models_early_with_few_trials() -> None:
    assert [startup_trials(n) for n in (1, 4, 6, 12, 20, 60)] == [2, 2, 2, 4, 6, 10]


def test_the_winner_comes_from_the_side_by_side_measurement() -> None:
    fluke = {"parallel": 1, "batch_size": 512, "kv_cache_type": "q8_0"}

    def search_scores(c: Candidate) -> float:  # one lucky minute for a slow candidate
        return 99.0 if dict(c) == fluke else landscape(c)

    tuning = FakeTuning(search_scores=search_scores)
    out = run(tuning, trials=8, rounds=1, confirm_rounds=2, budget_s=3600)
    assert out.confirmation["search #1"][0] == fluke  # the search's order
    assert out.winner == RULES and out.winner_label in ("search #2", RULE_BASED)
    assert out.confirmation["search #1"][1] == [landscape(fluke)] * 2


def test_the_rule_based_choice_wins_when_it_beats_the_search_side_by_side() -> None:
    rules = {"parallel": 2, "batch_size": 2048, "kv_cache_type": "f16", "threads": 8}

    def confirm_scores(c: Candidate) -> float:
        return 50.0 if dict(c) == rules else landscape(c)

    tuning = FakeTuning(rules=rules, confirm_scores=confirm_scores)
    out = run(tuning, trials=4, rounds=1, confirm_rounds=2, budget_s=3600)
    assert rules not in [t.candidate for t in out.search.trials]  # not a point of the space
    assert out.winner == rules and out.winner_label == RULE_BASED
    assert set(out.confirmation) >= {"search #1", RULE_BASED, DEFAULTS}


def test_the_defaults_are_never_the_winner() -> None:
    measured: Mapping[str, tuple[Candidate, list[float]]] = {
        "search #1": ({"parallel": 1}, [10.0]), RULE_BASED: ({"parallel": 2}, [12.0]),
        DEFAULTS: ({}, [30.0])}
    assert pick(measured) == (RULE_BASED, {"parallel": 2})
    assert pick({DEFAULTS: ({}, [30.0]), RULE_BASED: ({"parallel": 2}, [])}) is None


def test_every_round_is_counted_and_each_candidate_confirmed_once() -> None:
    tuning = FakeTuning()
    out = run(tuning, trials=3, rounds=2, confirm_rounds=3, budget_s=3600)
    searched = sum(len(t.scores) for t in out.search.trials)
    unique = {key(c) for c, _s in out.confirmation.values()}
    assert out.rounds == searched + 3 * len(unique)
    assert len(tuning.launched) == 3 + len(unique)  # one server per candidate and phase


def test_an_interrupted_search_is_not_confirmed() -> None:
    tuning = FakeTuning()
    calls = {"n": 0}
    inner = tuning.launch

    @contextlib.contextmanager
    def launch(candidate: Candidate) -> Iterator[Callable[[], float | None]]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        with inner(candidate) as run_round:
            yield run_round

    tuning.launch = launch  # type: ignore[method-assign]
    out = run(tuning, trials=5, rounds=1, confirm_rounds=1, budget_s=3600)
    assert out.search.interrupted and not out.confirmation
    assert out.winner is not None and out.winner_label == "search"
