"""Where llama-server's settings go, rendered; and each file read back. Pure: paths and the
binary come in as values, fileops writes.

llama-server reads LLAMA_ARG_* from its environment, so the shell, fish, systemd drop-in and
launchd files are the Ollama ones with llama.cpp's names (velollm/io/render.py quotes them). Two
more: `systemd-user`, a complete user unit running llama-server itself (most installs have no
unit at all), and `preset`, the INI file of `llama-server --models-preset` (router mode), whose
reader (common/preset.cpp) takes LLAMA_ARG_* names as keys, a [*] section for every model and a
[name] section per model. Its values have no quoting: a ';' or '#' starts a comment and spaces at
either end are dropped, so such values are refused rather than written wrong.
"""

from __future__ import annotations

import functools
import plistlib
import re
import shlex
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from velollm.backends.llamacpp.install import SYSTEMD_UNIT
from velollm.core.files import RenderedFile
from velollm.errors import ConfigError
from velollm.io import readback, systemd
from velollm.io.render import (
    check_command,
    check_env,
    check_name,
    check_value,
    comment_lines,
    fish_quote,
    render,
    sh_quote,
    systemd_executable,
)

KINDS = ("shell", "fish", "systemd", "systemd-user", "launchd", "preset")
LAUNCHD_LABEL = "com.velollm.llamacpp-env"
HEADER = "Managed by velollm: edits are reported as drift and replaced by `velollm apply`."
_INI_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_INI_SECTION = re.compile(r"[^\]\s][^\]]*\Z")


def default_path(kind: str, home: Path) -> Path:
    config = home / ".config" / "velollm"
    return {
        "shell": config / "llamacpp.env.sh",
        "fish": config / "llamacpp.env.fish",
        "systemd": systemd.dropin_dir(SYSTEMD_UNIT) / "velollm.conf",
        "systemd-user": home / ".config" / "systemd" / "user" / SYSTEMD_UNIT,
        "launchd": home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist",
        "preset": config / "llamacpp-models.ini",
    }[kind]


def auto_target(platform: str, unit_exists: bool) -> str:
    """The drop-in where llama-server.service exists, launchd on macOS, else a shell file."""
    if unit_exists:
        return "systemd"
    return "launchd" if platform == "darwin" else "shell"


def ini_value(value: str, name: str) -> str:
    check_value(value, name)
    if re.search(r"[;#]", value) or value != value.strip() or not value:
        raise ConfigError(f"value of {name} ({value!r}) cannot be written to llama.cpp's INI "
                          "file: it has no quoting, so ';', '#' and spaces at either end would "
                          "be lost", hint="use another target (--target shell)", path=name)
    return value


def _ini_pairs(params: Mapping[str, object], where: str) -> list[tuple[str, str]]:
    out = []
    for key, value in sorted(params.items()):
        if not _INI_KEY.match(key):
            raise ConfigError(f"{key!r} is not a key llama.cpp's INI reader accepts", path=key)
        out.append((key, ini_value(str(value), f"{where}.{key}")))
    return out


def render_target(kind: str, env: Mapping[str, str], *, path: Path | None, home: Path,
                  models: Mapping[str, Mapping[str, object]] | None = None,
                  unset: Collection[str] = (), binary: str | None = None) -> list[RenderedFile]:
    """One target's files. `models` (name -> its preset keys) are router mode's models: the
    preset target holds them, the other targets get the preset file beside them."""
    if kind not in KINDS:
        raise ConfigError(f"unknown target {kind!r}", hint=f"use one of: {', '.join(KINDS)}, auto")
    where = path or default_path(kind, home)
    lines = comment_lines(HEADER)
    pairs = check_env(env)
    gone = sorted(check_name(k) for k in set(unset) - set(env))
    if kind == "preset":
        return [_preset(where, pairs, models or {}, lines)]
    extra = [_preset(default_path("preset", home), [], models, lines)] if models else []
    start = f"{shlex.quote(binary or 'llama-server')}"
    if kind == "shell":
        by_hand = f". {shlex.quote(str(where))} && {start}"
        text = functools.partial(render, "llamacpp-shell.sh.j2", header_lines=lines, env=pairs,
                                 unset=gone)
        return [_file(where, text, kind, f"read when the shell that starts llama-server "
                      f"sources {where}: stop the server and start it with `{by_hand}`",
                      by_hand=by_hand), *extra]
    if kind == "fish":
        by_hand = f"source {fish_word(str(where))}; and {start}"
        text = functools.partial(render, "llamacpp-fish.fish.j2", header_lines=lines, env=pairs,
                                 unset=gone)
        return [_file(where, text, kind, "fish shells read it after `source "
                      f"{where}`: stop llama-server and start it with `{by_hand}`",
                      by_hand=by_hand), *extra]
    if kind == "systemd":
        text = functools.partial(render, "systemd.conf.j2", header_lines=lines, env=pairs)
        return [_file(where, text, kind, "systemd reads drop-ins on daemon-reload; the restart "
                      "starts llama-server with them",
                      ("systemctl daemon-reload", f"systemctl restart {SYSTEMD_UNIT}")), *extra]
    if kind == "systemd-user":
        exec_start = systemd_executable(binary) if binary else "/usr/bin/env llama-server"
        text = functools.partial(render, "llamacpp-server.service.j2", header_lines=lines,
                                 env=pairs, exec_start=exec_start)
        return [_file(where, text, kind, "the user unit runs llama-server with them: "
                      "daemon-reload reads it and the restart starts it (`systemctl --user "
                      f"enable {SYSTEMD_UNIT}` starts it at every login)",
                      ("systemctl --user daemon-reload",
                       f"systemctl --user restart {SYSTEMD_UNIT}")), *extra]
    return [_launchd(where, pairs, gone), *extra]


def _file(path: Path, content: str | Callable[[], str], kind: str, pickup: str, follow_up: tuple[str, ...] = (),
          by_hand: str = "") -> RenderedFile:
    return RenderedFile(path=path, content=content, kind=kind, follow_up=follow_up,
                        pickup=pickup, by_hand=by_hand)


def _preset(path: Path, pairs: list[tuple[str, str]],
            models: Mapping[str, Mapping[str, object]], lines: list[str]) -> RenderedFile:
    sections = []
    for name in sorted(models):
        if not _INI_SECTION.match(name) or name == "*" or name != name.strip():
            raise ConfigError(f"model name {name!r} cannot be an INI section", path=name)
        sections.append((name, _ini_pairs(models[name], name)))
    text = render("llamacpp-preset.ini.j2", header_lines=lines,
                  env=_ini_pairs(dict(pairs), "*"), models=sections)
    return _file(path, text, "preset", "read when llama-server starts with "
                 f"`--models-preset {path}` (router mode, no --model)",
                 by_hand=f"llama-server --models-preset {shlex.quote(str(path))}")


def _launchd(path: Path, pairs: list[tuple[str, str]], gone: list[str]) -> RenderedFile:
    script = check_command("; ".join(f"/bin/launchctl setenv {k} {sh_quote(v)}"
                                     for k, v in pairs) or ":", "LaunchAgent's command line")
    plist = {"Label": LAUNCHD_LABEL, "ProgramArguments": ["/bin/sh", "-c", script],
             "RunAtLoad": True}
    content = plistlib.dumps(plist, sort_keys=True).decode("utf-8")
    commands = (*(f"launchctl setenv {k} {sh_quote(v)}" for k, v in pairs),
                *(f"launchctl unsetenv {k}" for k in gone))
    return _file(path, content, "launchd", "the LaunchAgent sets them at every login; run the "
                 "launchctl commands now, then restart llama-server", commands)


def parse_preset(text: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """([*] keys, {section: keys}) of a preset INI, read the way common/preset.cpp reads it."""
    glob: dict[str, str] = {}
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip(" \t")
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and "]" in line:
            name = line[1:line.index("]")].strip(" \t")
            current = glob if name == "*" else sections.setdefault(name, {})
            continue
        key, sep, value = line.partition("=")
        value = re.split(r"[;#]", value, maxsplit=1)[0].strip(" \t")
        if sep and _INI_KEY.match(key.strip(" \t")) and current is not None \
                and key.strip() != "version":
            current[key.strip(" \t")] = value
    return glob, sections


def read_back(kind: str, text: str, known: Collection[str]
              ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The LLAMA_ARG_* settings a file holds (and a preset's model sections)."""
    if kind == "preset":
        return parse_preset(text)
    env = readback.parse_env_file("systemd" if kind == "systemd-user" else kind, text)
    return {k: v for k, v in env.items() if k.startswith("LLAMA_ARG_") or k in known}, {}


def fish_word(text: str) -> str:
    return text if shlex.quote(text) == text else fish_quote(text)
