"""The speculative advice from recorded samples: only a confirmed speedup with unchanged greedy
output is recommended; everything else says why speculation stays off."""

from __future__ import annotations

import random

from velollm.core.speculation import CandidateRun, Sample, advise, evaluate, paired_speedup


def run(label: str, speeds: list[float], *, text: str = "out", drafted: int | None = None,
        accepted: int | None = None, metrics: tuple[int, int] | None = None,
        kinds: tuple[str, ...] = ("code", "prose")) -> CandidateRun:
    samples = tuple(Sample(f"p{i % len(kinds)}", kinds[i % len(kinds)], f"{text}{i % len(kinds)}",
                           speed, 100.0, drafted, accepted) for i, speed in enumerate(speeds))
    return CandidateRun(label, {"spec_type": label}, samples,
                        *(metrics if metrics else (None, None)))


BASE = run("none", [30.0, 31.0, 29.5, 30.5, 30.2, 29.8])


def test_a_confirmed_speedup_is_recommended() -> None:
    fast = run("ngram-mod", [45.0, 46.0, 44.0, 45.5, 45.1, 44.9], drafted=10, accepted=9)
    rows = evaluate(BASE, [fast], random.Random(0))
    assert rows[1].speedup is not None and rows[1].speedup.ci_low > 1
    assert rows[1].acceptance == 0.9
    advice = advise(rows)
    assert advice.label == "ngram-mod"
    assert advice.settings == {"spec_type": "ngram-mod"}
    assert "identical greedy output" in advice.why


def test_high_acceptance_but_slower_is_not_recommended_and_says_why() -> None:
    slow = run("draft", [18.0, 17.5, 18.2, 18.1, 17.9, 18.0], drafted=100, accepted=93)
    advice = advise(evaluate(BASE, [slow], random.Random(0)))
    assert advice.label is None
    assert "0.60x" in advice.why and "93% of its drafts were accepted" in advice.why


def test_an_interval_reaching_below_one_is_not_confirmed() -> None:
    noisy = run("ngram-simple", [40.0, 25.0, 41.0, 24.0, 39.0, 26.0])
    rows = evaluate(BASE, [noisy], random.Random(0))
    assert rows[1].speedup is not None and rows[1].speedup.ci_low < 1 < rows[1].speedup.ci_high
    assert advise(rows).label is None


def test_changed_greedy_output_is_never_recommended() -> None:
    wrong = run("ngram-mod", [60.0] * 6, text="different")
    rows = evaluate(BASE, [wrong], random.Random(0))
    assert rows[1].same_output is False
    advice = advise(rows)
    assert advice.label is None and "changed greedy output" in advice.why


def test_speedup_pairs_samples_of_the_same_prompt() -> None:
    # prose is slow, code fast, for both; the candidate gains 10 % on each: pairing sees 1.10x
    base = run("none", [10.0, 100.0] * 3)
    cand = run("c", [11.0, 110.0] * 3)
    verdict = paired_speedup(base, cand, random.Random(0))
    assert abs(verdict.ratio - 1.10) < 1e-9 and verdict.ci_low > 1.09


def test_acceptance_by_kind_and_the_metrics_cross_check() -> None:
    cand = run("ngram", [30.0, 31.0], drafted=10, accepted=5, metrics=(20, 10))
    row = evaluate(BASE, [cand], random.Random(0))[1]
    assert row.acceptance_by_kind == {"code": 0.5, "prose": 0.5}
    assert row.metrics_agree is True
    off = run("ngram", [30.0, 31.0], drafted=10, accepted=5, metrics=(21, 10))
    assert evaluate(BASE, [off], random.Random(0))[1].metrics_agree is False


def test_failed_samples_are_reasons_not_figures() -> None:
    broken = CandidateRun("c", {}, (Sample("p0", "code", "", None, None, problem="cut"),))
    row = evaluate(BASE, [broken], random.Random(0))[1]
    assert row.decode is None and row.problems == ("p0: cut",)
    assert advise(evaluate(BASE, [broken], random.Random(0))).label is None


def test_a_baseline_that_failed_judges_nothing() -> None:
    dead = CandidateRun("none", {}, error="llama-server exited with status 1")
    advice = advise(evaluate(dead, [run("c", [50.0])], random.Random(0)))
    assert advice.label is None and "baseline" in advice.why
