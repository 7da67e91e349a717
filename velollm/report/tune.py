"""The text report of `velollm tune` and its JSON twin (the same figures)."""

from __future__ import annotations

import math

from velollm.app.tuning import TuneResult
from velollm.bench.tuner import Trial
from velollm.core.tune_space import Candidate, key
from velollm.core.workload import OBJECTIVES, shown, summary
from velollm.report.layout import fit_table, wrap_text


def _figures(scores: list[float]) -> dict[str, float | None]:
    if not scores:
        return {"mean": None, "low": None, "high": None}
    mean, low, high = summary(scores)
    return {"mean": mean, "low": low if math.isfinite(low) else None,
            "high": high if math.isfinite(high) else None}


def _trial(t: Trial) -> dict[str, object]:
    return {"settings": t.candidate, "name": t.name, "scores": t.scores, **_figures(t.scores),
            "pruned": t.pruned, "stopped_early": t.stopped_early, "error": t.error}


def document(r: TuneResult) -> dict[str, object]:
    w = r.workload
    def measured(entries: dict[str, tuple[Candidate, list[float]]]) -> dict[str, object]:
        return {label: {"settings": dict(cand), "scores": scores, **_figures(scores)}
                for label, (cand, scores) in entries.items()}

    return {"workload": {"concurrency": w.concurrency, "prompt_tokens": w.prompt_tokens,
                         "output_tokens": w.output_tokens, "objective": w.objective,
                         "ttft_limit_ms": w.ttft_limit_ms, "budget_s": w.budget_s},
            "server": r.described, "space": {k: list(v) for k, v in r.space.items()},
            "trials": [_trial(t) for t in r.search.trials],
            "winner": None if r.winner is None else dict(r.winner),
            "winner_from": r.winner_label, "confirmation": measured(r.confirmation),
            "comparison": measured(r.comparison), "gain": _gains(r), "pins": r.pins,
            "model_pins": r.model_pins, "rounds": r.rounds,
            "written": None if r.written is None else {"file": r.written[0],
                                                        "backup": r.written[1]},
            "roofline": None if r.roofline is None else vars(r.roofline),
            "elapsed_s": r.search.elapsed_s, "interrupted": r.search.interrupted}


def _gains(r: TuneResult) -> dict[str, float | None]:
    win = r.comparison.get("winner")
    out: dict[str, float | None] = {}
    for label in ("defaults", "rule-based"):
        other = r.comparison.get(label)
        if win and other and win[1] and other[1]:
            a, b = summary(win[1])[0], summary(other[1])[0]
            # oriented so that > 1 is better for every objective (ttft_p95 scores are negative)
            out[f"over_{label.replace('-', '_')}"] = (a / b if r.workload.objective !=
                                                      "ttft_p95" else b / a) if a and b else None
    return out


def render(r: TuneResult) -> list[str]:
    w = r.workload
    lines = wrap_text(f"Tuned {r.described.get('model')} on {r.described.get('binary')} for "
                      f"{w.concurrency} concurrent request(s) of {w.prompt_tokens} + "
                      f"{w.output_tokens} tokens; objective: {w.objective} "
                      f"({OBJECTIVES[w.objective]}); {r.search.elapsed_s:.0f} s of search, "
                      f"{r.rounds} rounds in all")
    lines.append("")
    rows = [["candidate", "score (mean, +-2 s.e.)", "outcome"]]
    for t in r.search.trials:
        f = _figures(t.scores)
        figure = shown(w, f["mean"]) + (f" ({shown(w, f['low'])}-{shown(w, f['high'])})"
                                         if f["low"] is not None else "")
        outcome = (f"not run: {t.pruned}" if t.pruned else f"failed: {t.error}" if t.error
                   else "stopped early (clearly worse)" if t.stopped_early else "measured")
        rows.append([t.name or "defaults", figure if t.scores else "-", outcome])
    lines += [line for row in fit_table(rows, flex=2) for line in row]
    if r.search.interrupted:
        lines += ["", "Interrupted (^C): the table holds what was measured."]
    if r.winner is None:
        lines += ["", "No candidate was measured completely; nothing to recommend."]
        return lines
    if r.confirmation:
        lines += ["", *wrap_text("Side by side (servers up together, rounds taking turns; the "
                                 "best of the search's and the rule-based wins, *):")]
    for label, (cand, scores) in r.confirmation.items():
        mean = summary(scores)[0] if scores else None
        mark = "*" if label == r.winner_label else " "
        lines.append(f" {mark}{label:<11} {shown(w, mean):>12}  "
                     f"{key(cand) or '(server defaults)'}")
    gains = _gains(r)
    for label, gain in gains.items():
        if gain is not None:
            lines.append(f"  winner / {label[5:].replace('_', '-')}: {gain:.2f}x")
    if r.roofline is not None:
        roof = r.roofline
        lines += ["", *wrap_text(
            f"Roofline: {roof.bandwidth_bytes_s / 1e9:.1f} GB/s ({roof.source}) over "
            f"{roof.weights_bytes / 2**20:.0f} MiB of weights = {roof.per_stream_tps:.1f} "
            f"tokens/s per stream at most; the winner reaches {roof.achieved_tps:.1f} t/s with "
            f"{roof.streams} stream(s), {roof.share:.0%} of the ceiling")]
    if r.pins:
        lines += ["", "The winner as velollm.yaml pins (server:):"]
        lines += [f"  {k}: {v}" for k, v in r.pins.items()]
    for model, params in r.model_pins.items():
        lines += [f"and under models: for {model}:", *(f"  {k}: {v}" for k, v in params.items())]
    if r.written:
        lines.append(f"Written to {r.written[0]} (the original is {r.written[1]}); run "
                     "`velollm plan`.")
    return lines
