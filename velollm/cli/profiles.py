"""`velollm profiles [show NAME]`: the built-in profiles and what each optimizes for."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

from velollm.errors import ConfigError
from velollm.output import OUT


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "profiles", parents=[common], help="list the built-in profiles, or show one",
        description="`velollm profiles` lists the built-in profiles with their objective; "
                    "`velollm profiles show NAME` prints one (NAME may be a profile file).")
    p.add_argument("action", nargs="?", choices=("list", "show"), default="list",
                   help="list (default) or show")
    p.add_argument("name", nargs="?", metavar="NAME", help="the profile to show")


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        if not args.name:
            raise ConfigError("`velollm profiles show` needs a NAME",
                              hint="run `velollm profiles` to list them")
        return _show(args.name)
    return _list()


def _as_dict(profile: Any) -> dict[str, Any]:
    d = asdict(profile)
    d["source"] = str(profile.source)
    d["models"] = [{"name": m.name, **m.params} for m in profile.models]
    return d


def _list() -> int:
    from velollm.config import load_profile
    from velollm.config.check import builtin_profiles

    profiles = [load_profile(name, Path.cwd()) for name in builtin_profiles()]
    if OUT.json_mode:
        OUT.json({"profiles": [_as_dict(p) for p in profiles]})
        return 0
    width = max(len(p.name) for p in profiles)
    for p in profiles:
        OUT.line(f"{OUT.style(p.name.ljust(width), 'bold')}  {p.description}")
    OUT.line()
    OUT.line("Use one with `profile: NAME` in velollm.yaml; `velollm profiles show NAME` prints it.")
    return 0


def _show(name: str) -> int:
    from velollm.config import load_profile

    profile = load_profile(name, Path.cwd())
    if OUT.json_mode:
        OUT.json({"profile": _as_dict(profile)})
    else:
        OUT.raw(profile.source.read_text(encoding="utf-8"))
    return 0
