"""`velollm plan`: what apply would change, and why, in Terraform's words and exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from velollm.cli._deadlines import add_deadline_options, bounded
from velollm.cli._planning import add_plan_options, request_from
from velollm.output import OUT


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "plan", parents=[common], help="show what apply would change, and why",
        description="Detect the hardware, read what Ollama is configured with now, run the "
                    "optimizer and show the difference: + add, ~ change, - remove, each with "
                    "its reason. Exit 0 on success; with --detailed-exitcode 0 = no changes, "
                    "1 = error, 2 = changes present (or, with --include-pending, a restart "
                    "pending).")
    add_plan_options(p)
    p.add_argument("--out", metavar="PLAN.json",
                   help="save the plan; `velollm apply PLAN.json` applies exactly it")
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 2 when there are changes (as terraform plan)")
    p.add_argument("--include-pending", action="store_true",
                   help="with --detailed-exitcode, also exit 2 when nothing is to change but "
                        "the running server has not restarted with the settings yet "
                        "(pending restart)")
    # plan reads a version, a model list and each model's metadata: seconds, not minutes
    add_deadline_options(p, 60.0, answer_s=10.0)


def run(args: argparse.Namespace) -> int:
    with bounded(args):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from velollm.app.planning import make_plan
    from velollm.report.plan import render_plan

    plan = make_plan(request_from(args))
    # the document holds the files' text: rendered only when it is saved or printed as JSON
    doc = plan.to_dict() if args.out or OUT.json_mode else {}
    if args.out:
        from velollm.io.fileops import atomic_write

        saved = (json.dumps(saved_plan_document(doc), indent=2) + "\n").encode("utf-8")
        # a plan may hold settings: never readable by others
        atomic_write(Path(args.out), saved, 0o600, keep_mode=False)
    if OUT.json_mode:
        OUT.json({"status": "ok", "changed": plan.has_changes, **doc})
    else:
        render_plan(plan, OUT)
        if args.out:  # on stderr: the Plan: line stays the last line of the report
            OUT.info(f"Saved the plan to {args.out}. To apply exactly it: "
                     f"velollm apply {args.out}")
    drift = plan.has_changes or (args.include_pending and bool(plan.pending))
    return 2 if args.detailed_exitcode and drift else 0


# The parts of a saved plan that only explain it: credentials in them (a proxy password the running
# server has now) are masked. What apply writes (env, files, settings) keeps the values it needs,
# in a file only its owner can read.
_EXPLAINING = ("changes", "observed", "warnings", "notes")


def saved_plan_document(doc: dict[str, Any]) -> dict[str, Any]:
    from velollm.core.secrets import mask_document

    return {k: mask_document(v) if k in _EXPLAINING else v for k, v in doc.items()}
