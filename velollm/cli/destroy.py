"""`velollm destroy`: remove every file velollm wrote and put back what it replaced."""

from __future__ import annotations

import argparse

from velollm.cli.prompt import confirm
from velollm.output import OUT


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "destroy", parents=[common], help="remove what velollm wrote, restore the originals",
        description="Delete the files velollm created and restore the backups of files it "
                    "replaced. Asks for confirmation unless --auto-approve.")
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    p.add_argument("--check", action="store_true", help="change nothing; report what would go")


def run(args: argparse.Namespace) -> int:
    from velollm.app.applying import outcome
    from velollm.io.fileops import remove_files

    preview = remove_files(dry_run=True)
    if not preview.changed:
        return _report(outcome(preview, None, "destroy"), "Nothing to destroy.")
    if not OUT.json_mode:
        OUT.line("velollm will remove or restore:")
        for d in preview.diffs:
            verb = "restore" if d.after is not None else "remove"
            OUT.line(f"  {OUT.style('-', 'red', 'bold')} {d.path} ({verb})")
    if args.check:
        return _report(outcome(preview, None, "destroy"), None)
    if not args.auto_approve:
        confirm("destroy", "Do you really want to remove or restore these files?",
                review="velollm destroy --check", unchanged="nothing was changed")
    result = remove_files(dry_run=False)
    return _report(outcome(result, None, "destroy"), None)


def _report(done: object, override_msg: str | None) -> int:
    doc = done.to_dict()  # type: ignore[attr-defined]
    if override_msg:
        doc["msg"] = override_msg
    if OUT.json_mode:
        OUT.json({"status": "ok", **doc})
    else:
        OUT.line(doc["msg"])
    return 0
