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

    return PlanRequest(
        config_path=config_path(args.file),
        hardware_path=Path(args.hardware) if args.hardware else None,
        target=args.target, path=Path(args.path).expanduser() if args.path else None,
        host=args.host)
