"""`velollm verify`: did every setting take effect, and did the benchmark not regress?

Exit codes (README): 0 every setting effective (or unknown) and no confirmed regression (a
regression measured on a busy machine is "unreliable", not confirmed); 1 error;
4 a setting or model parameter is not effective (or one velollm.yaml no longer sets is still in
force); 5 the benchmark confirmed a regression against the baseline; 130 ^C during the benchmark
(the settings and what was measured are still reported).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velollm.cli._deadlines import GENERATION_S, add_deadline_options, bounded
from velollm.output import OUT

if TYPE_CHECKING:
    from velollm.backends.base import Verification
    from velollm.backends.wire import ServerClient
    from velollm.config import VerifySpec

HELP = "check that every applied setting took effect, and benchmark against the baseline"
RUN_DEADLINE_S = 3600.0  # as benchmark's


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
    add_deadline_options(p, RUN_DEADLINE_S, generation_s=GENERATION_S)


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
    with bounded(args):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from velollm.app import verification
    from velollm.backends import get_backend
    from velollm.io.state import load_state

    state = load_state()
    spec, backend_name = _desired(args.file)
    backend = get_backend(verification.applied_backend(state) or backend_name)
    client = backend.client(backend.base_url(args.host))  # a bad --host first: a usage error
    wanted, target = verification.wanted_settings(state)
    version = client.version()  # a clear "not reachable" before anything else
    bench = None if args.skip_benchmark else _benchmark(client, spec, args.baseline,
                                                             version)
    # Evidence after the benchmark: loading the model writes the log lines that say what the
    # runner really did (flash attention, KV cache, parallel slots).
    found = backend.verify(state, wanted, target, client, version, log_path=args.log,
                           models=verification.wanted_models(state),
                           retired=verification.retired_settings(state))
    code = verification.exit_code([*found.effects, *found.model_effects],
                                  None if bench is None else bench["status"])
    if bench is not None and bench["status"] == "interrupted":
        code = verification.EXIT_INTERRUPTED
    doc = _document(client.base_url, version, found, target, bench, code)
    doc["server"]["backend"] = backend.title
    from velollm.app.runlog import keep_run  # for `velollm dashboard` and `velollm report`

    keep_run("verify", doc)
    if OUT.json_mode:
        OUT.json(doc)
    else:
        from velollm.report.verify import render

        render(doc, OUT)
    return code


def _benchmark(client: ServerClient, spec: VerifySpec, given: Path | None,
               version: str) -> dict[str, Any]:
    from velollm.app import verification
    from velollm.bench import baseline as bl
    from velollm.core.contention import judge
    from velollm.errors import ConfigError
    from velollm.report.progress import progress_bar

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
    progress = progress_bar()
    try:
        after = bl.measure(client, model, bl.suite_of(before, spec.iterations), progress=progress,
                       version=version)
    except bl.BenchmarkInterrupted as exc:  # ^C: compare what was measured, then exit 130
        after = exc.measurement.document
    except bl.BenchmarkStopped as exc:  # a server fault or the deadline: nothing to compare
        raise verification.unmeasured(exc.message, exc.hint) from None
    finally:
        if progress is not None:
            progress.clear()
    if not after["partial"]:  # ^C: what was measured is compared, and verify exits 130
        verification.check_measured(after, client.base_url)
    comparisons = bl.compare_documents(before, after, spec.max_regression)
    # A regression measured while other processes took the CPUs is not confirmed (issue 14).
    status, unreliable = judge(bl.overall(comparisons), before.get("contention"),
                               after.get("contention"))
    status = "interrupted" if after["partial"] else status
    return {"status": status, "baseline": str(path), "model": model,
            "max_regression": spec.max_regression, "iterations": spec.iterations,
            "baseline_started_at": before.get("started_at"),
            "contention": {"baseline": before.get("contention"), "new": after.get("contention")},
            "unreliable": unreliable,
            "comparisons": [c.as_dict() for c in comparisons]}


def _document(url: str, version: str, found: Verification, target: str,
              bench: dict[str, Any] | None, code: int) -> dict[str, Any]:
    status = {0: "ok", 4: "not_effective", 5: "regressed", 130: "interrupted"}.get(code, "error")
    return {
        "status": status, "exit_code": code,
        "server": {"url": url, "version": version, **found.server},
        "target": target,
        "settings": [e.as_dict() for e in found.effects],
        "model_parameters": [{"model": m.model, "parameter": m.parameter, "wanted": m.wanted,
                              "observed": m.observed, "status": m.status, "why": m.why}
                             for m in found.model_effects],
        "loaded_models": [dict(m) for m in found.loaded_models],
        "benchmark": bench if bench is not None else {"status": "skipped", "comparisons": []},
        "notes": list(found.notes),
    }
