"""Speculative decoding candidates measured against no speculation: the table and the advice. Pure.

The rule (issue 13): speculation is recommended only when its speedup is confirmed, the whole
bootstrap interval of decode tokens/s (candidate / baseline, ratio of medians) above 1, and when
it leaves greedy output unchanged (verification must make speculation lossless; a difference
means a bug or a non-greedy setting, never a speedup worth having). Otherwise: no speculation,
and the reason.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from velollm.core.stats import Summary, Verdict, VerdictStatus, summarize


@dataclass(frozen=True)
class Sample:
    """One greedy generation of one prompt."""

    prompt: str  # the prompt's name in the suite
    kind: str  # "code", "repetitive", "prose"
    text: str
    decode_tps: float | None  # the server's own timings (predicted_n / predicted_ms)
    ttft_ms: float | None  # first streamed token, client clock
    draft_n: int | None = None  # tokens drafted (timings.draft_n); None: no speculation
    draft_accepted: int | None = None
    problem: str | None = None  # a failed sample: why it is not a figure


@dataclass(frozen=True)
class CandidateRun:
    label: str
    settings: Mapping[str, str]  # llama-server flag -> value ("" for a bare flag)
    samples: tuple[Sample, ...] = ()
    # /metrics spec_decode_* counters over the measured requests (after minus before)
    metrics_drafted: int | None = None
    metrics_accepted: int | None = None
    error: str | None = None  # it could not be measured at all (did not start, crashed)


@dataclass(frozen=True)
class Row:
    label: str
    settings: Mapping[str, str]
    decode: Summary | None
    ttft: Summary | None
    acceptance: float | None  # accepted / drafted over every sample
    acceptance_by_kind: Mapping[str, float] = field(default_factory=dict)
    speedup: Verdict | None = None  # None for the baseline itself
    same_output: bool | None = None  # greedy output identical to the baseline's
    metrics_agree: bool | None = None  # timings' draft counts == /metrics counters
    problems: tuple[str, ...] = ()
    samples: tuple[Sample, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "settings": dict(self.settings),
                "decode_tps": None if self.decode is None else self.decode.as_dict(),
                "ttft_ms": None if self.ttft is None else self.ttft.as_dict(),
                "acceptance": self.acceptance,
                "acceptance_by_kind": dict(self.acceptance_by_kind),
                "speedup": None if self.speedup is None else self.speedup.as_dict(),
                "same_output": self.same_output, "metrics_agree": self.metrics_agree,
                "problems": list(self.problems),
                "samples": [{"prompt": x.prompt, "kind": x.kind, "decode_tps": x.decode_tps,
                             "ttft_ms": x.ttft_ms, "draft_n": x.draft_n,
                             "draft_accepted": x.draft_accepted, "chars": len(x.text),
                             "problem": x.problem} for x in self.samples]}


@dataclass(frozen=True)
class Advice:
    label: str | None  # None: no speculation
    settings: Mapping[str, str]
    why: str


def evaluate(baseline: CandidateRun, candidates: Sequence[CandidateRun],
             rng: random.Random) -> tuple[Row, ...]:
    """One row per run, the baseline first; speedups against the baseline's decode speed."""
    reference = {s.prompt: s.text for s in baseline.samples if s.problem is None}
    rows = [_row(baseline, None, None)]
    for run in candidates:
        verdict = paired_speedup(baseline, run, rng) if run.error is None else None
        good = [s for s in run.samples if s.problem is None]
        same = (all(reference.get(s.prompt, s.text) == s.text for s in good)
                if good and reference else None)
        rows.append(_row(run, verdict, same))
    return tuple(rows)


def advise(rows: Sequence[Row]) -> Advice:
    """The fastest candidate whose speedup is confirmed and whose output is unchanged."""
    if not rows or rows[0].decode is None:
        return Advice(None, {}, "the baseline (no speculation) could not be measured, so no "
                                "speedup can be judged")
    confirmed = [r for r in rows[1:] if r.speedup is not None and r.speedup.ci_low > 1
                 and r.same_output is not False]
    if confirmed:
        best = max(confirmed, key=lambda r: r.speedup.ratio if r.speedup else 0.0)
        assert best.speedup is not None
        return Advice(best.label, best.settings,
                      f"{best.label} decodes {best.speedup.ratio:.2f}x as fast as no speculation "
                      f"({best.speedup.confidence:.0%} interval {best.speedup.ci_low:.2f}x-"
                      f"{best.speedup.ci_high:.2f}x, wholly above 1) with identical greedy output")
    changed = [r.label for r in rows[1:] if r.same_output is False]
    measured = [r for r in rows[1:] if r.speedup is not None and r.speedup.n_new]
    if not measured:
        return Advice(None, {}, "no speculative candidate could be measured; keep speculation "
                                "off")
    best = max(measured, key=lambda r: r.speedup.ratio if r.speedup else 0.0)
    assert best.speedup is not None
    why = (f"no candidate is confirmed faster: the best, {best.label}, ran at "
           f"{best.speedup.ratio:.2f}x ({best.speedup.confidence:.0%} interval "
           f"{best.speedup.ci_low:.2f}x-{best.speedup.ci_high:.2f}x)")
    if best.acceptance is not None and best.speedup.ratio < 1:
        why += (f" although {best.acceptance:.0%} of its drafts were accepted: verifying a draft "
                "costs about as much as generating here")
    if changed:
        why += f"; changed greedy output (never recommended): {', '.join(changed)}"
    return Advice(None, {}, why + "; keep speculation off")


def paired_speedup(baseline: CandidateRun, run: CandidateRun, rng: random.Random,
                   resamples: int = 2000, confidence: float = 0.95) -> Verdict:
    """Decode speed of `run` over the baseline's, paired by prompt and repetition.

    The requests took turns side by side, so the i-th sample of a prompt in both runs saw the
    same machine; their ratio cancels the noise they shared. The speedup is the geometric mean of
    the paired ratios (prompts with different gains weigh alike), its interval a percentile
    bootstrap over the pairs.
    """
    pairs = [b.decode_tps and c.decode_tps and c.decode_tps / b.decode_tps
             for b, c in _pairs(baseline, run)]
    logs = [math.log(r) for r in pairs if r and r > 0 and math.isfinite(r)]
    if not logs:
        return Verdict("inconclusive", math.nan, math.nan, math.nan, confidence, 0.0, 0, 0)
    means = sorted(statistics.fmean(rng.choices(logs, k=len(logs))) for _ in range(resamples))
    alpha = (1 - confidence) / 2
    low = math.exp(means[int(alpha * (resamples - 1))])
    high = math.exp(means[math.ceil((1 - alpha) * (resamples - 1))])
    status: VerdictStatus = ("improved" if low > 1 else "regressed" if high < 1
                             else "inconclusive")
    return Verdict(status, math.exp(statistics.fmean(logs)), low, high, confidence, 0.0,
                   len(logs), len(logs))


def _pairs(baseline: CandidateRun, run: CandidateRun) -> list[tuple[Sample, Sample]]:
    """The i-th sample of each prompt in the baseline with the i-th of the same prompt in run."""
    def by_prompt(r: CandidateRun) -> dict[str, list[Sample]]:
        out: dict[str, list[Sample]] = {}
        for sample in r.samples:
            out.setdefault(sample.prompt, []).append(sample)
        return out

    base, cand = by_prompt(baseline), by_prompt(run)
    return [(b, c) for name in base for b, c in zip(base[name], cand.get(name, []), strict=False)
            if b.problem is None and c.problem is None]


def _figures(run: CandidateRun, name: str) -> list[float]:
    values = (getattr(s, name) for s in run.samples if s.problem is None)
    return [v for v in values if v is not None]


def _row(run: CandidateRun, verdict: Verdict | None, same: bool | None) -> Row:
    good = [s for s in run.samples if s.problem is None]
    drafted = sum(s.draft_n or 0 for s in good)
    accepted = sum(s.draft_accepted or 0 for s in good)
    by_kind: dict[str, float] = {}
    for kind in sorted({s.kind for s in good}):
        d = sum(s.draft_n or 0 for s in good if s.kind == kind)
        if d:
            by_kind[kind] = sum(s.draft_accepted or 0 for s in good if s.kind == kind) / d
    agree = None
    if run.metrics_drafted is not None and any(s.draft_n is not None for s in good):
        agree = run.metrics_drafted == drafted and run.metrics_accepted == accepted
    problems = tuple(f"{s.prompt}: {s.problem}" for s in run.samples if s.problem)
    if run.error:
        problems = (run.error, *problems)
    return Row(run.label, run.settings, summarize(_figures(run, "decode_tps")),
               summarize(_figures(run, "ttft_ms")), accepted / drafted if drafted else None,
               by_kind, verdict, same, agree, problems, run.samples)
