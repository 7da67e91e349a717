"""The text report of `velollm verify` (its --json twin is the document itself)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from velollm.output import Output
from velollm.report.layout import fit_table, local_time, wrap_text

_COLOURS = {"effective": "green", "not effective": "red", "unknown": "yellow",
            "improved": "green", "no_regression": "green", "regressed": "red",
            "inconclusive": "yellow", "unreliable": "yellow"}


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """One string a row (several lines where a cell wraps) that fits the terminal; the last
    column (a why, a verdict) narrows first, or goes below its row."""
    return ["\n".join(lines) for lines in fit_table(rows, indent=2, flex=len(rows[0]) - 1)]


def render(doc: dict[str, Any], out: Output) -> None:
    """The text report of a verify document (the --json twin)."""
    server = doc["server"]
    out.line(f"Settings on {server.get('backend', 'Ollama')} {server['version']} at {server['url']}"
             + (f" (pid {server['pid']})" if server["pid"] else ""))
    checked = _checked(doc)
    rows = [("setting", "wanted", "observed", "status", "why")]
    rows += [(name, "(unset)" if s["wanted"] is None else s["wanted"],
              "-" if s["observed"] is None else s["observed"],
              s["status"], s["why"]) for name, s in checked]
    for i, line in enumerate(_table(rows)):
        status = checked[i - 1][1]["status"] if i else ""
        out.line(line.replace(status, out.style(status, _COLOURS[status]), 1) if i else line)
    for m in doc["loaded_models"]:
        ctx = "" if m["context_length"] is None else f", context_length {m['context_length']}"
        out.line(f"  loaded: {m['name']} (expires {local_time(m['expires_at'])}{ctx})")
    for note in doc["notes"]:
        for line in wrap_text(f"  note: {note}", indent="        "):
            out.line(line)
    out.line()
    _render_benchmark(doc["benchmark"], out)
    out.line()
    for line in wrap_text(_verdict_line(doc), indent="  "):
        out.line(out.style(line, "bold"))


def _checked(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(row name, row): each server setting, then each model parameter as `MODEL PARAMETER`."""
    return [(s["env"], s) for s in doc["settings"]] + [
        (f"{m['model']} {m['parameter']}", m) for m in doc.get("model_parameters", [])]


_UNITS = {"decode_tps": ("decode tok/s", 1.0), "aggregate_tps": ("aggregate tok/s", 1.0),
          "ttft_s": ("TTFT ms", 1000.0), "prefill_tps": ("prefill tok/s", 1.0)}


def _num(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value * scale:.{digits}f}"


def _render_benchmark(bench: dict[str, Any], out: Output) -> None:
    if bench["status"] == "skipped":
        out.line("Benchmark: skipped (--skip-benchmark)")
        return
    if bench["status"] == "no_baseline":
        out.line(f"Benchmark: no baseline at {bench['baseline']}: record one with "
                 "`velollm apply --baseline` (or `velollm benchmark --out FILE`, then --baseline)")
        return
    for line in wrap_text(f"Benchmark of {bench['model']} against the baseline of "
                          f"{local_time(bench['baseline_started_at'])} (max regression "
                          f"{bench['max_regression']:.0%}, 95% bootstrap interval of the ratio "
                          "of medians; > 1 is better)"):
        out.line(line)
    rows = [("benchmark", "metric", "before", "after", "ratio", "interval", "verdict")]
    for c in bench["comparisons"]:
        label, scale = _UNITS[c["metric"]]
        verdict = c["status"].replace("_", " ") + (" (too few samples)" if c["note"] else "") \
            + ("" if c["gating"] else " (not gating)")
        rows.append((c["benchmark"], label, _num(c["before"], scale), _num(c["after"], scale),
                     _num(c["ratio"], digits=2),
                     f"{_num(c['ci_low'], digits=2)}-{_num(c['ci_high'], digits=2)}", verdict))
    for line in _table(rows):
        out.line(line)


def _verdict_line(doc: dict[str, Any]) -> str:
    bad = [name + (" (still set)" if s["wanted"] is None else "")
           for name, s in _checked(doc) if s["status"] == "not effective"]
    unknown = [name for name, s in _checked(doc) if s["status"] == "unknown"]
    parts = [f"not effective: {', '.join(bad)}" if bad else "every setting took effect"
             if not unknown else f"could not confirm: {', '.join(unknown)}"]
    bench = doc["benchmark"]["status"]
    parts.append({"regressed": "regression confirmed", "improved": "faster than the baseline",
                  "no_regression": "no regression",
                  "inconclusive": "benchmark inconclusive (too few or too noisy samples: raise "
                                  "verify.iterations)",
                  "interrupted": "benchmark interrupted (^C): only what was measured is compared",
                  "unreliable": "slower, but unreliable: measured on a busy machine ("
                                f"{doc['benchmark'].get('unreliable')}); rerun verify when the "
                                "machine is quiet",
                  }.get(bench, "no benchmark"))
    return f"verify: {'; '.join(parts)} (exit {doc['exit_code']})"
