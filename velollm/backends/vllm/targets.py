"""Where vLLM's settings go, rendered; and each file read back. Pure: paths, the command and the
image come in as values, fileops writes.

vLLM reads its arguments only from its command line and VLLM_* from its environment, so every
target but `env` carries the whole command: `systemd-unit` a user unit running `vllm serve`,
`systemd` a drop-in that replaces the ExecStart of an existing vllm.service, `compose` a
docker-compose service of the vllm/vllm-openai image (the common deployment). `env` is an
EnvironmentFile= / env_file: of the VLLM_* variables alone.

Settings are named as knobs.py names them: "--max-model-len" for an argument, "VLLM_X" for a
variable; knobs.settings_argv turns the arguments into argv words.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from velollm.backends.vllm.knobs import argv_settings, settings_argv
from velollm.core.files import RenderedFile
from velollm.errors import ConfigError
from velollm.io import systemd
from velollm.io.render import check_name, check_value, comment_lines, systemd_quote

KINDS = ("systemd-unit", "systemd", "env", "compose")
UNIT = "vllm.service"
IMAGE = "vllm/vllm-openai:v0.32.0"
HEADER = "Managed by velollm: edits are reported as drift and replaced by `velollm apply`."
_BARE = re.compile(r"[A-Za-z0-9_./:=,+@-]+\Z")
_ENV_FILE_VALUE = re.compile(r"[^\s'\"\\$`#]*\Z")


def default_path(kind: str, home: Path) -> Path:
    config = home / ".config" / "velollm"
    return {
        "systemd-unit": home / ".config" / "systemd" / "user" / UNIT,
        "systemd": systemd.dropin_dir(UNIT) / "velollm.conf",
        "env": config / "vllm.env",
        "compose": config / "vllm-compose.yaml",
    }[kind]


def auto_target(unit_exists: bool) -> str:
    """The drop-in where vllm.service exists, else a user unit of our own."""
    return "systemd" if unit_exists else "systemd-unit"


def exec_word(word: str) -> str:
    """One word of ExecStart=: bare when plain, else double-quoted with C escapes; `%` (a
    specifier) is doubled and `$` (a variable) written `$$` (systemd.service(5))."""
    check_value(word)
    if _BARE.match(word):
        return word
    body = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{body}"'


def exec_words(line: str) -> list[str]:
    """ExecStart='s words, unquoted (the forms exec_word writes, and plain shell-like ones)."""
    try:
        words = shlex.split(line, posix=True)
    except ValueError:
        return []
    return [w.replace("%%", "%").replace("$$", "$") for w in words]


def command(start: Sequence[str], model: str, settings: Mapping[str, str]) -> list[str]:
    """The full argv: `start` is ("vllm", "serve") or (python, "-m", api_server module)."""
    model_arg = [model] if start[-1] == "serve" else ["--model", model]
    return [*start, *model_arg, *settings_argv(settings)]


def _variables(settings: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(check_name(k), check_value(v, k)) for k, v in sorted(settings.items())
            if not k.startswith("--")]


def render_target(kind: str, settings: Mapping[str, str], *, path: Path | None, home: Path,
                  start: Sequence[str], model: str | None, image: str = IMAGE,
                  unset: Collection[str] = ()) -> list[RenderedFile]:  # noqa: ARG001
    """One target's files. `unset` is not needed: every target but env holds the whole command
    and env file holds every variable, so a setting velollm no longer wants is simply gone."""
    if kind not in KINDS:
        raise ConfigError(f"unknown target {kind!r}", hint=f"use one of: {', '.join(KINDS)}, auto")
    files = _render(kind, settings, path or default_path(kind, home), start, model, image)
    if "VLLM_API_KEY" in settings:  # the key is a secret: readable by its owner only
        return [f.with_mode(0o600) for f in files]
    return files


def _render(kind: str, settings: Mapping[str, str], where: Path, start: Sequence[str],
            model: str | None, image: str) -> list[RenderedFile]:
    header = [f"# {line}" for line in comment_lines(HEADER)]
    env = _variables(settings)
    if kind == "env":
        return [_env_file(where, env, header)]
    if not model:
        raise ConfigError("server.model is not set: vLLM needs the model it serves on its "
                          "command line", hint="set server.model to a model directory or id",
                          path="server.model")
    if kind == "compose":
        return [_compose(where, settings, env, header, model, image)]
    argv = command(start, model, settings)
    exec_start = " ".join(exec_word(w) for w in argv)
    lines = [f"Environment={systemd_quote(f'{k}={v}')}" for k, v in env]
    if kind == "systemd":
        text = "\n".join([*header, "[Service]", "ExecStart=", f"ExecStart={exec_start}",
                          *lines, ""])
        return [RenderedFile(path=where, content=text, kind=kind, pickup="systemd reads "
                             "drop-ins on daemon-reload; the restart starts vLLM with them "
                             "(the empty ExecStart= clears the unit's own command)",
                             follow_up=("systemctl daemon-reload", f"systemctl restart {UNIT}"))]
    text = "\n".join([*header, "[Unit]", ("Description=vLLM OpenAI-compatible server "
                      "(settings by velollm)"), "After=network-online.target", "",
                      "[Service]", f"ExecStart={exec_start}", *lines, "Restart=on-failure",
                      "RestartSec=10", "TimeoutStartSec=900", "", "[Install]",
                      "WantedBy=default.target", ""])
    return [RenderedFile(path=where, content=text, kind=kind, pickup="the user unit runs vLLM "
                         "with them: daemon-reload reads it and the restart starts it "
                         f"(`systemctl --user enable {UNIT}` starts it at every login)",
                         follow_up=("systemctl --user daemon-reload",
                                    f"systemctl --user restart {UNIT}"))]


def _env_file(where: Path, env: list[tuple[str, str]], header: list[str]) -> RenderedFile:
    for name, value in env:
        if not _ENV_FILE_VALUE.match(value):
            raise ConfigError(f"value of {name} ({value!r}) cannot be written to an env file "
                              "that systemd and docker compose read alike (no quoting there)",
                              hint="use the systemd-unit or compose target", path=name)
    text = "\n".join([*header, *(f"{k}={v}" for k, v in env), ""])
    return RenderedFile(path=where, content=text, kind="env", pickup="read by a unit with "
                        f"EnvironmentFile={where} or a compose service with env_file; vLLM's "
                        "arguments are not in it (it reads them only from its command line)")


def _q(text: str) -> str:
    """A YAML double-quoted scalar: JSON's string syntax is a subset of YAML's."""
    return json.dumps(check_value(text), ensure_ascii=False)


def _compose(where: Path, settings: Mapping[str, str], env: list[tuple[str, str]],
             header: list[str], model: str, image: str) -> RenderedFile:
    args = settings_argv(settings)
    port = settings.get("--port", "8000")
    local = Path(model).is_absolute()
    served = f"/models/{Path(model).name}" if local else model
    lines = [*header, "services:", "  vllm:", f"    image: {_q(image)}",
             "    ipc: host", "    restart: unless-stopped",
             f"    command: [{', '.join(_q(w) for w in ['--model', served, *args])}]",
             f"    ports: [{_q(f'127.0.0.1:{port}:{port}')}]",
             # the vllm-openai image is the CUDA build: it needs the GPUs handed in
             "    deploy:", "      resources:", "        reservations:",
             '          devices: [{driver: "nvidia", count: "all", capabilities: ["gpu"]}]']
    if local:
        lines.append(f"    volumes: [{_q(f'{model}:{served}:ro')}]")
    if env:
        lines.append("    environment:")
        lines += [f"      {k}: {_q(v)}" for k, v in env]
    text = "\n".join([*lines, ""])
    return RenderedFile(path=where, content=text, kind="compose", pickup="docker compose "
                        "starts the service with them", by_hand=f"docker compose -f "
                        f"{shlex.quote(str(where))} up -d",
                        follow_up=(f"docker compose -f {shlex.quote(str(where))} up -d",))


def read_back(kind: str, text: str) -> dict[str, str]:
    """The settings a file holds, named as knobs.py names them."""
    if kind == "env":
        return dict(line.split("=", 1) for line in text.splitlines()
                    if "=" in line and not line.lstrip().startswith("#"))
    if kind == "compose":
        return _read_compose(text)
    env = systemd.parse_environment(text)
    out = {k: v for k, v in env.items() if k.startswith("VLLM_")}
    starts = [line.partition("=")[2] for line in text.splitlines()
              if line.startswith("ExecStart=")]
    if starts and starts[-1].strip():
        out.update(argv_settings(exec_words(starts[-1]))[1])
    return out


def _read_compose(text: str) -> dict[str, str]:
    from velollm.config.yamlload import load_text
    from velollm.errors import VelollmError

    try:
        data = load_text(text, "compose file").data
    except VelollmError:
        return {}
    service = (data.get("services") or {}).get("vllm") if isinstance(data, dict) else None
    if not isinstance(service, dict):
        return {}
    out: dict[str, str] = {}
    environment = service.get("environment")
    if isinstance(environment, dict):
        out.update({str(k): str(v) for k, v in environment.items()
                    if str(k).startswith("VLLM_")})
    words = service.get("command")
    if isinstance(words, str):
        words = shlex.split(words)
    if isinstance(words, list):
        out.update(argv_settings([str(w) for w in words])[1])
    return out
