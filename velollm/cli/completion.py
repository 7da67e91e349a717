"""`velollm completion bash|zsh|fish`: the shell completion script, generated from velollm's own
argparse parser by shtab (https://github.com/iterative/shtab; the one module that imports it), so
it always knows every command, option and choice of this version.

The parser is handed over by main.build_parser (`root_parser` in the arguments): importing main
from here would be an import cycle.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from velollm.output import OUT

SHELLS = ("bash", "zsh", "fish")
HELP = "print the shell completion script for bash, zsh or fish"
# Options and arguments that take a file: the shell completes paths for them.
_PATH_METAVARS = frozenset({"FILE", "PLANFILE", "PLAN.json", "PATH", "P"})


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "completion", parents=[common], help=HELP,
        description=HELP + " on stdout. bash: `velollm completion bash > "
                           "~/.local/share/bash-completion/completions/velollm`; zsh: "
                           "`velollm completion zsh > ~/.zfunc/_velollm` with ~/.zfunc in "
                           "fpath before compinit; fish: `velollm completion fish > "
                           "~/.config/fish/completions/velollm.fish`.")
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def run(args: argparse.Namespace) -> int:
    import shtab

    parser: argparse.ArgumentParser = args.root_parser
    for action in _actions(parser):
        if action.metavar in _PATH_METAVARS or action.type is Path:
            action.complete = shtab.FILE  # type: ignore[attr-defined]  # shtab reads it
    script = shtab.complete(parser, shell=args.shell)
    if OUT.json_mode:
        OUT.json({"status": "ok", "shell": args.shell, "script": script})
    else:
        OUT.raw(script)
    return 0


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every argument of the parser and of its subcommands."""
    found: list[argparse.Action] = []
    for action in parser._actions:
        found.append(action)
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict(action.choices).values():
                found += _actions(sub)
    return found
