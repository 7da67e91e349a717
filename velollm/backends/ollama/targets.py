"""The table of targets: where each kind of file goes, how it is rendered, how Ollama picks it up.

`render_target()` is pure: it takes the environment, the paths and the home directory as values and
returns RenderedFile values; nothing is written here (fileops does that). `auto_target()` likewise
takes the facts it decides on as parameters; `detect_facts()` gathers them at the edge.
"""

from __future__ import annotations

import functools
import os
import plistlib
import re
import shlex
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from velollm.backends.ollama.names import SYSTEMD_UNIT
from velollm.core.files import RenderedFile
from velollm.core.secrets import has_secret
from velollm.errors import ConfigError
from velollm.io import systemd
from velollm.io.render import (
    check_command,
    check_env,
    check_model,
    check_name,
    check_value,
    comment_lines,
    fish_quote,
    modelfile_value,
    render,
    sh_quote,
    systemd_executable,
)

if TYPE_CHECKING:
    from velollm.core.planner import ParamValue

TargetKind = Literal["shell", "fish", "systemd", "systemd-user", "launchd", "modelfile"]
KINDS: tuple[str, ...] = get_args(TargetKind)
LAUNCHD_LABEL = "com.velollm.ollama-env"
DEFAULT_HEADER = "Managed by velollm: edits are reported as drift and replaced by `velollm apply`."
_PARAM_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")


def default_path(kind: TargetKind, home: Path) -> Path:
    """The default file (or, for modelfile, the directory) of each target."""
    config = home / ".config" / "velollm"
    return {
        "shell": config / "ollama.env.sh",
        "fish": config / "ollama.env.fish",
        "systemd": systemd.dropin_dir(SYSTEMD_UNIT) / "velollm.conf",
        "systemd-user": home / ".config" / "systemd" / "user" / SYSTEMD_UNIT,
        "launchd": home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist",
        "modelfile": config / "modelfiles",
    }[kind]


@dataclass(frozen=True)
class PlatformFacts:
    platform: str  # sys.platform: "linux", "darwin", ...
    ollama_unit_exists: bool


def detect_facts() -> PlatformFacts:
    return PlatformFacts(sys.platform, systemd.unit_exists(SYSTEMD_UNIT))


def auto_target(facts: PlatformFacts) -> TargetKind:
    """systemd where ollama.service exists, launchd on macOS, a shell file otherwise."""
    if facts.ollama_unit_exists:
        return "systemd"
    if facts.platform == "darwin":
        return "launchd"
    return "shell"


def render_target(kind: str, env: Mapping[str, str], *, path: Path | None = None,
                  models: Mapping[str, Mapping[str, ParamValue]] | None = None,
                  header: str = DEFAULT_HEADER, home: Path | None = None,
                  unset: Collection[str] = (), ollama: str | None = None) -> list[RenderedFile]:
    """Render one target. `env` is for the server targets, `models` (model -> parameters) for
    modelfile. `path` overrides the default file (a directory for modelfile). `unset`: variables
    velollm set before and no longer wants; the shell and fish files unset them, because a shell
    that sourced an earlier version of the file would hand them on to `ollama serve` (systemd
    starts the service from its unit files only: leaving the line out is enough there; launchd
    keeps them in its session until `launchctl unsetenv`). `ollama`: the binary the systemd-user
    unit starts (found on PATH at plan time), else `/usr/bin/env ollama`."""
    if kind not in KINDS:
        raise ConfigError(f"unknown target {kind!r}", hint=f"use one of: {', '.join(KINDS)}, auto")
    target: TargetKind = kind  # type: ignore[assignment]
    where = path or default_path(target, home or Path(os.path.expanduser("~")))
    lines = comment_lines(header)
    pairs = check_env(env)
    gone = sorted(check_name(k) for k in set(unset) - set(env))
    if target == "shell":
        restart = f". {shlex.quote(str(where))} && ollama serve"
        return [_file(where, lambda: render("shell.sh.j2", header_lines=lines, env=pairs,
                                            unset=gone), target,
                      "Ollama reads it when the shell or service that runs `ollama serve` sources "
                      f"{where}: stop the running server and start it with `{restart}`",
                      by_hand=restart, values=_assignments(pairs))]
    if target == "fish":
        restart = f"source {_fish_word(str(where))}; and ollama serve"
        return [_file(where, lambda: render("fish.fish.j2", header_lines=lines, env=pairs,
                                            unset=gone), target,
                      f"fish shells read it after `source {where}`: stop the running `ollama "
                      f"serve` and start it with `{restart}`", by_hand=restart,
                      values=_assignments(pairs))]
    if target == "systemd":
        return [_file(where, lambda: render("systemd.conf.j2", header_lines=lines, env=pairs),
                      target,
                      "systemd reads drop-ins on daemon-reload; the restart starts Ollama with them",
                      ("systemctl daemon-reload", "systemctl restart ollama"),
                      values=_assignments(pairs))]
    if target == "systemd-user":
        return [_user_unit(where, lines, pairs, ollama)]
    if target == "launchd":
        return [_launchd(where, pairs, gone)]
    return _modelfiles(where, models or {}, lines)


def _file(path: Path, content: str | Callable[[], str], target: str, pickup: str,
          follow_up: tuple[str, ...] = (), by_hand: str = "", *,
          values: Iterable[str] = ()) -> RenderedFile:
    """`content` may be a function that renders it (when it is needed); then `values` are what
    it will hold (the settings): a credential among them (a proxy's user:password) makes the
    file readable by its owner only."""
    text = content if isinstance(content, str) else "\n".join(values)
    return RenderedFile(path=path, content=content, kind=target, follow_up=follow_up,
                        pickup=pickup, by_hand=by_hand, mode=0o600 if has_secret(text) else 0o644)


def _assignments(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{k}={v}" for k, v in pairs]


def _fish_word(text: str) -> str:
    """`text` as one fish word: bare where POSIX needs no quotes either, else fish-quoted."""
    return text if shlex.quote(text) == text else fish_quote(text)


def launchd_script(pairs: list[tuple[str, str]]) -> str:
    """One /bin/sh command line: launchctl setenv for every variable (POSIX-quoted)."""
    script = "; ".join(f"/bin/launchctl setenv {k} {sh_quote(v)}" for k, v in pairs) or ":"
    return check_command(script, "LaunchAgent's command line")


def _user_unit(path: Path, lines: list[str], pairs: list[tuple[str, str]],
               ollama: str | None) -> RenderedFile:
    """A complete `systemctl --user` unit that runs `ollama serve` with the settings."""
    binary = systemd_executable(ollama) if ollama else "/usr/bin/env ollama"
    content = functools.partial(render, "systemd-user.service.j2", header_lines=lines,
                                env=pairs, exec_start=f"{binary} serve")
    return _file(path, content, "systemd-user",
                 "the user unit runs `ollama serve` with them: systemctl --user daemon-reload "
                 "reads it and the restart starts the server (`systemctl --user enable ollama` "
                 "starts it at every login; stop any other Ollama server on the port first)",
                 ("systemctl --user daemon-reload", "systemctl --user restart ollama"),
                 values=[*_assignments(pairs), binary])


def _launchd(path: Path, pairs: list[tuple[str, str]], gone: list[str]) -> RenderedFile:
    # plistlib does the XML escaping; the values travel through sh single quotes (tested in bash).
    plist = {"Label": LAUNCHD_LABEL,
             "ProgramArguments": ["/bin/sh", "-c", launchd_script(pairs)],
             "RunAtLoad": True}
    content = plistlib.dumps(plist, sort_keys=True).decode("utf-8")
    commands = (*(f"launchctl setenv {k} {sh_quote(v)}" for k, v in pairs),
                *(f"launchctl unsetenv {k}" for k in gone))  # launchd's session keeps them else
    return _file(path, content, "launchd",
                 "the LaunchAgent sets them at every login; run the launchctl commands now, "
                 "then quit and restart Ollama.app", commands)


def _modelfiles(directory: Path, models: Mapping[str, Mapping[str, ParamValue]],
                header_lines: list[str]) -> list[RenderedFile]:
    out = []
    for model in sorted(models):
        check_model(model)
        params = []
        for name, value in sorted(models[model].items()):
            if not _PARAM_NAME.match(name):
                raise ConfigError(f"Modelfile parameter name {name!r} of {model} is not valid",
                                  path=f"{model}.{name}")
            # A tuple (stop sequences) is one PARAMETER line per item, as Ollama collects them.
            for one in value if isinstance(value, tuple) else (value,):
                params.append((name, check_value(one, f"{model}.{name}")))
                modelfile_value(one)  # refused now, not when the text is rendered later
        path = directory / f"{modelfile_stem(model)}.Modelfile"
        content = functools.partial(render, "modelfile.j2", header_lines=header_lines,
                                    model=model, params=params)
        command = f"ollama create {shlex.quote(model)} -f {shlex.quote(str(path))}"
        out.append(_file(path, content, "modelfile",
                         f"`ollama create` bakes the parameters into {model}; requests for it "
                         "use them from the next load", (command,),
                         values=[model, *(f"{k} {v}" for k, v in params)]))
    return out


def modelfile_stem(model: str) -> str:
    """A file name for a model reference: 'library/llama3.2:3b' -> 'library_llama3.2_3b'."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", model)
