"""Options shared by plan and apply, and the request they describe."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from velollm.app.planning import PlanRequest

TARGET_CHOICES = ("auto", "shell", "fish", "systemd", "systemd-user", "launchd")


def add_plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--file", metavar="FILE",
                   help="the desired state (default: $VELOLLM_CONFIG, else ./velollm.yaml)")
    p.add_argument("--hardware", metavar="FILE",
                   help="plan for the machine described by this `velollm detect --json` "
                        "document instead of this one (no server is contacted)")
    p.add_argument("--target", choices=TARGET_CHOICES,
                   help="where to write the server settings (default: velollm.yaml's target)")
    p.add_argument("--path", metavar="P", help="write the target file here instead")
    p.add_argument("--host", metavar="URL",
                   help="the running server to plan for and read models from (default for "
                        "Ollama: OLLAMA_HOST)")


def request_from(args: argparse.Namespace) -> PlanRequest:
    from velollm.app.planning import PlanRequest
    from velollm.cli.validate import config_path

    for option in ("file", "hardware", "path"):
        _check_path_option(option, getattr(args, option))
    return PlanRequest(
        config_path=config_path(args.file),
        hardware_path=Path(args.hardware) if args.hardware else None,
        target=args.target, path=Path(args.path).expanduser() if args.path else None,
        host=args.host)


def _check_path_option(option: str, given: str | None) -> None:
    """A path with a control character (a newline, ESC) or a noncharacter is a typo or an attack:
    it would be written as a file name and echoed to the terminal. Refused, as velollm.yaml's."""
    from velollm.errors import UsageError
    from velollm.io.render import writing_problem

    problem = writing_problem(given, max_bytes=4096) if given else None
    if problem:
        raise UsageError(f"invalid --{option} {given!r}: it {problem}",
                         hint="give a plain file path")
