"""The search of `velollm tune`: Optuna's TPE sampler picks candidates (the first one enqueued:
velollm's rule-based choice), its median pruner stops the clearly worse ones after a round, and the
best few are measured again side by side (bench/tune_pipeline.py picks the winner from that).

The only module that imports optuna (an optional extra: `pip install 'velollm[tune]'`). Optuna is
a maintained search library with samplers and pruners that a hand-written loop would only
imitate; velollm keeps what Optuna does not know: which candidates never run (memory, rules),
duplicates measured once, a time budget, and ^C keeping what was measured.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

from velollm.core.tune_space import Candidate, Space, key
from velollm.errors import UsageError

if TYPE_CHECKING:
    import optuna

RunRound = Callable[[], "float | None"]  # one round of the workload on a running candidate
Launch = Callable[[Candidate], contextlib.AbstractContextManager[RunRound]]
MAX_SKIPS = 500  # statically pruned suggestions in a row before the space counts as exhausted


@dataclass
class Trial:
    candidate: dict[str, object]
    name: str
    scores: list[float] = field(default_factory=list)
    pruned: str | None = None  # never run: why (memory, rules)
    stopped_early: bool = False  # the median pruner stopped it after its first rounds
    error: str | None = None  # it did not start or failed every round


@dataclass
class Search:
    trials: list[Trial]
    interrupted: bool = False
    elapsed_s: float = 0.0


def optuna_module() -> ModuleType:
    try:
        import optuna
    except ImportError:
        raise UsageError("velollm tune needs Optuna, an optional dependency",
                         hint="install it with: pip install 'velollm[tune]'") from None
    return optuna


def startup_trials(max_trials: int) -> int:
    """Trials TPE samples at random before it models the scores (Optuna's default: 10).

    With the 4-20 trials `velollm tune` runs, 10 would make the whole search random. TPE needs
    one trial better and one worse than the rest to contrast (its split puts ceil(10 %) of the
    trials on the good side), so at least 2: the enqueued rule-based choice and one random
    draw; a third of the trials keeps some exploration in longer searches; 10 caps it."""
    return min(10, max(2, max_trials // 3))


def seed_params(space: Space, candidate: Candidate) -> dict[str, object]:
    """The part of `candidate` that is a point of `space` (a value outside a dimension's
    choices is left for the sampler: Optuna refuses it), for study.enqueue_trial."""
    return {k: v for k, v in candidate.items() if k in space.dimensions and
            any(type(v) is type(c) and v == c for c in space.dimensions[k])}


def search(space: Space, prune: Callable[[Candidate], str | None], launch: Launch, *,
           rounds: int, budget_s: float, max_trials: int, seed: int = 0,
           seeds: Sequence[Candidate] = (),
           progress: Callable[[str], None] = lambda _m: None) -> Search:
    """Measure candidates until the budget, max_trials or the space is spent (or ^C); `seeds`
    (velollm's rule-based choice) are tried first."""
    optuna = optuna_module()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():  # multivariate TPE is still marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # multivariate: the knobs interact (ubatch only within batch, a quantized cache only
        # with flash attention, slots with threads), which independent per-knob models miss.
        # `group` is for spaces whose dimensions change between trials; ours never do.
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                             n_startup_trials=startup_trials(max_trials))
    study = optuna.create_study(direction="maximize", sampler=sampler,
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3))
    for cand in seeds:
        study.enqueue_trial(seed_params(space, cand), skip_if_exists=True)
    dists = {k: optuna.distributions.CategoricalDistribution(list(v))
             for k, v in space.dimensions.items()}
    states = optuna.trial.TrialState
    seen: dict[str, Trial] = {}
    started = time.monotonic()
    out = Search([])
    skips = 0
    try:
        while (time.monotonic() - started < budget_s and
               sum(1 for t in out.trials if t.scores or t.error) < max_trials and
               skips < MAX_SKIPS):
            trial = study.ask(dists)
            cand = dict(trial.params)
            name = key(cand)
            if name in seen:  # TPE re-suggests categorical combinations: measured once
                done = seen[name]
                skips += 1
                if done.scores and not done.stopped_early:
                    study.tell(trial, sum(done.scores) / len(done.scores))
                else:
                    study.tell(trial, state=states.PRUNED)
                continue
            reason = prune(cand)
            record = Trial(cand, name, pruned=reason)
            seen[name] = record
            out.trials.append(record)
            if reason is not None:
                study.tell(trial, state=states.PRUNED)
                skips += 1
                continue
            skips = 0
            progress(f"trial {sum(1 for t in out.trials if t.pruned is None)}: {name}")
            _measure(record, launch, rounds, trial)
            if record.stopped_early:
                study.tell(trial, state=states.PRUNED)
            elif record.scores:
                study.tell(trial, sum(record.scores) / len(record.scores))
            else:
                study.tell(trial, state=states.FAIL)
    except KeyboardInterrupt:
        out.interrupted = True
    out.elapsed_s = time.monotonic() - started
    return out


def _measure(record: Trial, launch: Launch, rounds: int, trial: optuna.trial.Trial) -> None:
    from velollm.errors import VelollmError

    try:
        with launch(record.candidate) as run_round:
            for step in range(rounds):
                value = run_round()
                if value is None:
                    record.error = "a round measured nothing usable (requests failed)"
                    return
                record.scores.append(value)
                trial.report(value, step)
                if step + 1 < rounds and trial.should_prune():
                    record.stopped_early = True
                    return
    except VelollmError as exc:
        record.error = exc.message


def confirm(candidates: Sequence[tuple[str, Candidate]], launch: Launch, rounds: int,
            progress: Callable[[str], None] = lambda _m: None) -> dict[str, list[float]]:
    """Measure a few candidates again, all servers up at once and the rounds taking turns, so a
    change of load on a shared machine falls on all of them alike."""
    scores: dict[str, list[float]] = {label: [] for label, _c in candidates}
    with contextlib.ExitStack() as stack:
        runners: list[tuple[str, RunRound]] = []
        for label, cand in candidates:
            progress(f"starting {label} for the side-by-side comparison")
            with _suppress_launch_errors():
                runners.append((label, stack.enter_context(launch(cand))))
        for step in range(rounds):
            progress(f"side by side, round {step + 1}/{rounds}")
            for label, run_round in runners:
                with _suppress_launch_errors():  # a failed round is a missing figure
                    value = run_round()
                    if value is not None:
                        scores[label].append(value)
    return scores


@contextlib.contextmanager
def _suppress_launch_errors() -> Iterator[None]:
    from velollm.errors import VelollmError

    with contextlib.suppress(VelollmError):
        yield
