"""`velollm verify`: did every setting take effect, and did the benchmark not regress?

Exit codes (README): 0 every setting effective (or unknown) and no confirmed regression; 1 error;
4 a setting is not effective (or one velollm.yaml no longer sets is still in force); 5 the
benchmark confirmed a regression against the baseline.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velollm.output import OUT

if TYPE_CHECKING:
    from velollm.backends.base import Verification
    from velollm.backends.wire import ServerClient
    from velollm.config import VerifySpec

HELP = "check that every applied setting took effect, and benchmark against the baseline"


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "verify", parents=[common], help=HELP,
        description=HELP + ". Exit 0: all effective, no confirmed regression; 4: a setting is "
                           "not effective; 5: a regression is confirmed; 1: error.")
    p.add_argument("-f", "--file", metavar="FILE",
                   help="velollm.yaml with the verify: thresholds (default: $VELOLLM_CONFIG, "
                        "else ./velollm.yaml; built-in thresholds when there is none)")
    p.add_argument("--baseline", type=Path, metavar="FILE",
                   help="benchmark document to compare with (default: the one "
                        "`velollm apply --baseline` saved)")
    p.add_argument("--host", metavar="URL",
                   help="Ollama base URL (default: from OLLAMA_HOST, else http://127.0.0.1:11434)")
    p.add_argument("--log", type=Path, metavar="FILE",
                   help="the log `ollama serve` writes: its `server config` line and warnings "
                        "are evidence too")
    p.add_argument("--skip-benchmark", action="store_true",
                   help="only check that the settings took effect")


def _desired(given: str | None) -> tuple[VerifySpec, str | None]:
    """(verify: settings, backend name) from velollm.yaml; defaults when there is none."""
    from velollm.config import VerifySpec, load_config, resolve

    path = Path(given or os.environ.get("VELOLLM_CONFIG") or "velollm.yaml")
    if given is None and not path.exists():
        return VerifySpec(), None
    # Overrides never set verify: or backend:, so no hardware is needed to resolve them.
    desired = resolve(load_config(path), None)
    return desired.verify, desired.backend


def run(args: argparse.Namespace) -> int:
    from velollm.app import verification
    from velollm.backends import get_backend
    from velollm.io.state import load_state

    state = load_state()
    wanted, target = verification.wanted_settings(state)
    spec, backend_name = _desired(args.file)
    backend = get_backend(verification.applied_backend(state) or backend_name)
    client = backend.client(backend.base_url(args.host))
    version = client.version()  # a clear "not reachable" before anything else
    bench = None if args.skip_benchmark else _benchmark(client, spec, args.baseline)
    # Evidence after the benchmark: loading the model writes the log lines that say what the
    # runner really did (flash attention, KV cache, parallel slots).
    found = backend.verify(state, wanted, target, client, version, log_path=args.log,
                           retired=verification.retired_settings(state))
    code = verification.exit_code(found.effects, None if bench is None else bench["status"])
    doc = _document(client.base_url, version, found, target, bench, code)
    doc["server"]["backend"] = backend.title
    if OUT.json_mode:
        OUT.json(doc)
    else:
        render(doc)
    return code


def _benchmark(client: ServerClient, spec: VerifySpec, given: Path | None) -> dict[str, Any]:
    from velollm.bench import baseline as bl
    from velollm.errors import ConfigError

    path = given or bl.baseline_path()
    before = bl.load_baseline(path)
    if before is None:
        if given is not None:
            raise ConfigError(f"the baseline {given} does not exist", path=str(given),
                              hint="record one with `velollm apply --baseline` or "
                                   "`velollm benchmark --out FILE`")
        return {"status": "no_baseline", "baseline": str(path), "comparisons": []}
    model = str(before["model"])
    if spec.model and spec.model != model:
        raise ConfigError(f"the baseline measured {model} but verify.model is {spec.model}",
                          path="$.verify.model", hint="record a new baseline with "
                          "`velollm apply --baseline`, or set verify.model to the baseline's")
    OUT.info(f"benchmarking {model} against the baseline of {before.get('started_at', '?')}")
    after = bl.measure(client, model, bl.suite_of(before, spec.iterations))
    comparisons = bl.compare_documents(before, after, spec.max_regression)
    return {"status": bl.overall(comparisons), "baseline": str(path), "model": model,
            "max_regression": spec.max_regression, "iterations": spec.iterations,
            "baseline_started_at": before.get("started_at"),
            "comparisons": [c.as_dict() for c in comparisons]}


def _document(url: str, version: str, found: Verification, target: str,
              bench: dict[str, Any] | None, code: int) -> dict[str, Any]:
    status = {0: "ok", 4: "not_effective", 5: "regressed"}.get(code, "error")
    return {
        "status": status, "exit_code": code,
        "server": {"url": url, "version": version, **found.server},
        "target": target,
        "settings": [{"env": e.env, "wanted": e.wanted, "observed": e.observed,
                      "status": e.status, "why": e.why} for e in found.effects],
        "loaded_models": [dict(m) for m in found.loaded_models],
        "benchmark": bench if bench is not None else {"status": "skipped", "comparisons": []},
        "notes": list(found.notes),
    }


_COLOURS = {"effective": "green", "not effective": "red", "unknown": "yellow",
            "improved": "green", "no_regression": "green", "regressed": "red",
            "inconclusive": "yellow"}


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def render(doc: dict[str, Any]) -> None:
    """The text report of a verify document (the --json twin)."""
    server = doc["server"]
    OUT.line(f"Settings on {server.get('backend', 'Ollama')} {server['version']} at {server['url']}"
             + (f" (pid {server['pid']})" if server["pid"] else ""))
    rows = [("setting", "wanted", "observed", "status", "why")]
    rows += [(s["env"], "(unset)" if s["wanted"] is None else s["wanted"],
              "-" if s["observed"] is None else s["observed"],
              s["status"], s["why"]) for s in doc["settings"]]
    for i, line in enumerate(_table(rows)):
        status = doc["settings"][i - 1]["status"] if i else ""
        OUT.line(line.replace(status, OUT.style(status, _COLOURS[status]), 1) if i else line)
    for m in doc["loaded_models"]:
        ctx = "" if m["context_length"] is None else f", context_length {m['context_length']}"
        OUT.line(f"  loaded: {m['name']} (expires_at {m['expires_at']}{ctx})")
    for note in doc["notes"]:
        OUT.line(f"  note: {note}")
    OUT.line()
    _render_benchmark(doc["benchmark"])
    OUT.line()
    OUT.line(OUT.style(_verdict_line(doc), "bold"))


_UNITS = {"decode_tps": ("decode tok/s", 1.0), "aggregate_tps": ("aggregate tok/s", 1.0),
          "ttft_s": ("TTFT ms", 1000.0), "prefill_tps": ("prefill tok/s", 1.0)}


def _num(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value * scale:.{digits}f}"


def _render_benchmark(bench: dict[str, Any]) -> None:
    if bench["status"] == "skipped":
        OUT.line("Benchmark: skipped (--skip-benchmark)")
        return
    if bench["status"] == "no_baseline":
        OUT.line(f"Benchmark: no baseline at {bench['baseline']}: record one with "
                 "`velollm apply --baseline` (or `velollm benchmark --out FILE`, then --baseline)")
        return
    OUT.line(f"Benchmark of {bench['model']} against the baseline of "
             f"{bench['baseline_started_at']} (max regression {bench['max_regression']:.0%}, "
             f"95% bootstrap interval of the ratio of medians; > 1 is better)")
    rows = [("benchmark", "metric", "before", "after", "ratio", "interval", "verdict")]
    for c in bench["comparisons"]:
        label, scale = _UNITS[c["metric"]]
        verdict = c["status"].replace("_", " ") + (" (too few samples)" if c["note"] else "") \
            + ("" if c["gating"] else " (not gating)")
        rows.append((c["benchmark"], label, _num(c["before"], scale), _num(c["after"], scale),
                     _num(c["ratio"], digits=2),
                     f"{_num(c['ci_low'], digits=2)}-{_num(c['ci_high'], digits=2)}", verdict))
    for line in _table(rows):
        OUT.line(line)


def _verdict_line(doc: dict[str, Any]) -> str:
    bad = [s["env"] + (" (still set)" if s["wanted"] is None else "")
           for s in doc["settings"] if s["status"] == "not effective"]
    unknown = [s["env"] for s in doc["settings"] if s["status"] == "unknown"]
    parts = [f"not effective: {', '.join(bad)}" if bad else "every setting took effect"
             if not unknown else f"could not confirm: {', '.join(unknown)}"]
    bench = doc["benchmark"]["status"]
    parts.append({"regressed": "regression confirmed", "improved": "faster than the baseline",
                  "no_regression": "no regression",
                  "inconclusive": "benchmark inconclusive (too few or too noisy samples: raise "
                                  "verify.iterations)",
                  }.get(bench, "no benchmark"))
    return f"verify: {'; '.join(parts)} (exit {doc['exit_code']})"
