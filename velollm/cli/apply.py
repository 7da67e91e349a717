"""`velollm apply`: write the plan into the files the server reads, safely and idempotently."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from velollm.cli._planning import add_plan_options, request_from
from velollm.cli.prompt import confirm
from velollm.errors import VelollmError
from velollm.output import OUT


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "apply", parents=[common], help="write the planned settings into the target files",
        description="Without PLANFILE: plan, show the plan and ask for confirmation (no "
                    "terminal: refuses unless --auto-approve). With PLANFILE (from `velollm plan "
                    "--out`): apply exactly that plan, refusing it when stale. --json prints "
                    '{"changed", "diff", "msg", "files"} for Ansible.')
    p.add_argument("planfile", nargs="?", metavar="PLANFILE", help="a saved plan to apply")
    add_plan_options(p)
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    p.add_argument("--check", action="store_true",
                   help="change nothing; report what would change (Ansible check mode)")
    p.add_argument("--diff", action="store_true", help="show a unified diff per file")
    p.add_argument("--force", action="store_true",
                   help="replace files velollm did not create (the original is backed up)")
    p.add_argument("--restart", action="store_true",
                   help="run `systemctl daemon-reload` and `systemctl restart ollama` after "
                        "writing a systemd drop-in (`systemctl --user ...` for systemd-user), "
                        "or `launchctl setenv` for the launchd target (otherwise they are "
                        "printed); it cannot restart an `ollama "
                        "serve` started from a shell, and says how to")
    p.add_argument("--create-models", action="store_true",
                   help="run `ollama create` for each changed Modelfile")
    p.add_argument("--baseline", action="store_true",
                   help="benchmark the running server before writing, for `velollm verify`: "
                        "verify.model, else the first installed model of velollm.yaml's "
                        "models:, else the most recently modified installed model")


def _plan(args: argparse.Namespace) -> tuple[Any, bool]:
    """(plan, from_file)."""
    from velollm.app.applying import load_plan_file, rederive
    from velollm.app.planning import make_plan

    if args.planfile:
        if any((args.file, args.hardware, args.target, args.path)):
            raise VelollmError("a saved plan already fixes the file, hardware and target",
                               hint="give either PLANFILE or -f/--hardware/--target/--path")
        # what is written is derived again, never read from the file (issue 15)
        return rederive(load_plan_file(Path(args.planfile)), Path(args.planfile)), True
    return make_plan(request_from(args)), False


def run(args: argparse.Namespace) -> int:
    from velollm.app.applying import follow_ups, outcome, retired_follow_ups, write_plan
    from velollm.backends import get_backend
    from velollm.io.fileops import unified_diff
    from velollm.io.state import load_state
    from velollm.report.plan import render_plan

    plan, from_file = _plan(args)
    preview = write_plan(plan, dry_run=True, force=args.force)
    # Which model the baseline runs, checked before the plan is shown and approved.
    wants_baseline = args.baseline and not args.check and preview.changed
    baseline = _baseline_model(args, plan) if wants_baseline else None
    asks = preview.changed and not (args.check or args.auto_approve or from_file)
    # -q: only the outcome, unless the user is asked to approve a plan they have not seen
    shown = not OUT.json_mode and not from_file and (not OUT.quiet or asks)
    if shown:
        render_plan(plan, OUT)
    elif not OUT.json_mode and not from_file:
        _warn(list(plan.warnings))
    if args.diff and not OUT.json_mode:
        for d in preview.diffs:
            OUT.raw(unified_diff(d.path, d.before, d.after))
    if args.check or not preview.changed:
        if args.baseline:
            OUT.info("no baseline recorded: --baseline records one only when apply writes")
        return _report(outcome(preview, plan, "write"), shown=shown)
    if not (args.auto_approve or from_file):
        confirm("apply", "Do you want to perform these actions?", review="velollm plan",
                unchanged="nothing was written")
    if baseline is not None:
        _record_baseline(*baseline)
    before = load_state()  # the target each file to take back was written for
    result = write_plan(plan, dry_run=False, force=args.force)
    done = outcome(result, plan, "apply")
    backend = get_backend(plan.backend)
    done.follow_up, done.ran, done.warnings = follow_ups(
        plan, {str(p) for p in result.written}, restart=args.restart,
        create_models=args.create_models, server_kinds=backend.target_kinds,
        retired=retired_follow_ups(plan, before, result, backend))
    return _report(done, shown=shown)


def _baseline_model(args: argparse.Namespace, plan: Any) -> tuple[Any, str]:
    """(client, model): verify.model, else the first installed model of velollm.yaml's models:,
    else the most recently modified installed model; said on stderr."""
    from velollm.backends import get_backend
    from velollm.bench.pick import pick_model
    from velollm.config import load_config, resolve

    # The profile's verify: counts too; overrides never set verify:, so no hardware is needed.
    desired = resolve(load_config(Path(plan.inputs.get("config") or "velollm.yaml")), None)
    backend = get_backend(plan.backend)
    client = backend.client(backend.base_url(args.host or plan.inputs.get("host")))
    model, how = pick_model(client, backend.title, wanted=desired.verify.model,
                            listed=[m.name for m in desired.models])
    choose = "" if desired.verify.model else "; set verify.model to choose"
    OUT.info(f"baseline: benchmarking {model} ({how}{choose})")
    return client, model


def _record_baseline(client: Any, model: str) -> None:
    from velollm.bench.baseline import BenchmarkInterrupted, record_baseline
    from velollm.report.progress import progress_bar

    progress = progress_bar()
    try:
        path = record_baseline(client, model, progress=progress)
    except BenchmarkInterrupted:
        if progress is not None:
            progress.clear()  # before the message, on the bar's line
        OUT.info("the baseline was interrupted: none was recorded, and nothing was written")
        raise  # main: "Interrupted (^C)", exit 130
    finally:
        if progress is not None:
            progress.clear()
    OUT.info(f"recorded the baseline in {path}")
    from velollm.app.runlog import keep_run
    from velollm.bench.baseline import load_baseline

    recorded = load_baseline(path)  # kept as a run too: the "before" of this apply's gains
    if recorded is not None:
        keep_run("benchmark", recorded)


def _report(done: Any, *, shown: bool) -> int:
    """`shown`: the plan was rendered above (its last line already said No changes)."""
    if OUT.json_mode:
        OUT.json({"status": "ok", **done.to_dict()})
        _warn(done.warnings)  # on stderr as well as in the document
        return 0
    if shown and not done.changed:
        _warn(done.warnings)
        return 0
    if not OUT.quiet:  # -q: the outcome line only
        _details(done, gap=shown)
    from velollm.report.layout import wrap_text

    # -q keeps the outcome one line, for scripts; the full report wraps to the terminal
    for line in [done.msg] if OUT.quiet else wrap_text(done.msg):
        OUT.line(OUT.style(line, "bold"))
    _warn(done.warnings)
    return 0


def _details(done: Any, *, gap: bool) -> None:
    if gap:
        OUT.line("")
    would = done.msg.startswith("Would")
    for path in done.files:
        gone = path in done.removed
        verb = (("would remove" if gone else "would write") if would
                else ("removed" if gone else "wrote"))
        OUT.line(f"  {OUT.style(verb, 'green')} {path}")
    for command in done.ran:
        OUT.line(f"  {OUT.style('ran', 'green')} {command}")
    if done.follow_up:
        OUT.line("To make the server pick the change up, run:")
        for command in done.follow_up:
            OUT.line(f"  {command}")


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        OUT.warn(warning)
