"""The text report of `velollm benchmark --speculative` (its --json twin is SpeculativeSweep's
document, built here too so both show the same figures)."""

from __future__ import annotations

from velollm.backends.base import SpeculativeSweep
from velollm.core.speculation import Row
from velollm.report.layout import fit_table, wrap_text


def document(sweep: SpeculativeSweep) -> dict[str, object]:
    return {"server": dict(sweep.server), "candidates": [r.as_dict() for r in sweep.rows],
            "refused_drafts": [{"draft": d, "why": why} for d, why in sweep.refused],
            "recommendation": {"candidate": sweep.advice.label,
                               "settings": dict(sweep.advice.settings), "why": sweep.advice.why},
            "pins": dict(sweep.pins)}


def render(sweep: SpeculativeSweep) -> list[str]:
    s = sweep.server
    lines = wrap_text(f"Speculative decoding on {s.get('binary')} with {s.get('model')}: "
                      f"{s.get('reps')} repetitions of each prompt, {s.get('n_predict')} tokens, "
                      f"greedy, {s.get('threads')} thread(s), servers {s.get('schedule')}")
    lines.append("")
    table = [["candidate", "decode t/s", "TTFT ms", "accepted", "speedup (95% interval)",
              "greedy output"]]
    table += [_cells(r, i == 0) for i, r in enumerate(sweep.rows)]
    lines += [line for row in fit_table(table, flex=4, right=(1, 2, 3)) for line in row]
    for row in sweep.rows:
        for problem in row.problems:
            lines += wrap_text(f"{row.label}: {problem}", indent="  ! ")
        if row.metrics_agree is False:
            lines += wrap_text(f"{row.label}: the draft counts of the responses' timings and "
                               "of /metrics differ", indent="  ! ")
    if sweep.refused:
        lines.append("")
        lines.append("Drafts refused (a draft must share the target's tokenizer):")
        for draft, why in sweep.refused:
            lines += wrap_text(f"{draft}: {why}", indent="  ")
    lines.append("")
    verdict = sweep.advice.label or "no speculation"
    lines += wrap_text(f"Recommendation: {verdict} — {sweep.advice.why}.")
    if sweep.pins:
        lines.append("To apply it, set in velollm.yaml under `server:` (or run again with "
                     "--write) and run velollm plan:")
        lines += [f"  {key}: {value}" for key, value in sweep.pins.items()]
    return lines


def _cells(row: Row, baseline: bool) -> list[str]:
    decode = "-" if row.decode is None else f"{row.decode.median:.1f}"
    ttft = "-" if row.ttft is None else f"{row.ttft.median:.0f}"
    accepted = "-" if row.acceptance is None else f"{row.acceptance:.0%}"
    if baseline:
        speed, same = "(baseline)", "(reference)"
    else:
        v = row.speedup
        speed = ("-" if v is None or v.n_new == 0 else
                 f"{v.ratio:.2f}x ({v.ci_low:.2f}-{v.ci_high:.2f})")
        same = {True: "same", False: "CHANGED", None: "-"}[row.same_output]
    label = row.label if not row.problems or row.decode else f"{row.label} (failed)"
    return [label, decode, ttft, accepted, speed, same]
