# MIT License (see the VeloLLM repository)
"""Run the velollm CLI on a managed host and read the one JSON document it prints.

Both modules go through here so they agree on how velollm is found, which environment it sees,
and how its errors ({"status": "error", "errors": [{path, message}]} plus a hint on stderr) become
one Ansible `msg` that an operator can act on.
"""

from __future__ import annotations

import json
import os
from typing import Any

# velollm's JSON documents carry a format_version; a new major version means the format broke.
SUPPORTED_FORMAT_VERSION = 1


class VelollmRunError(Exception):
    """velollm could not be run or reported an error; `details` go into fail_json."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


def resolve_executable(module: Any, executable: str) -> str:
    """An absolute path to velollm on the managed host, or a message saying how to install it."""
    if os.sep in executable:
        path = os.path.expanduser(executable)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    else:
        found = module.get_bin_path(executable, required=False)
        if found:
            return str(found)
    raise VelollmRunError(
        f"velollm executable '{executable}' was not found on this host: install velollm there "
        "(from its repository, not PyPI: pip install git+URL, or a wheel built with `python3 -m "
        "pip wheel`) or set the executable option to its path")


def velollm_env(extra: dict[str, Any] | None) -> dict[str, str]:
    """Environment for the velollm process: no colour codes in what we parse, plus the caller's."""
    env = {"NO_COLOR": "1"}
    for key, value in (extra or {}).items():
        env[str(key)] = os.path.expanduser(str(value))
    return env


def _error_lines(doc: dict[str, Any] | None) -> list[str]:
    if not doc or not isinstance(doc.get("errors"), list):
        return []
    lines = []
    for problem in doc["errors"]:
        if not isinstance(problem, dict):
            continue
        path, message = problem.get("path") or "", problem.get("message") or ""
        where = problem.get("file") or ""
        if where and problem.get("line"):
            where = f"{os.path.basename(str(where))}:{problem['line']}"
        text = ": ".join(str(part) for part in (where, path, message) if part)
        lines.append(text)
    return lines


def _hints(stderr: str) -> list[str]:
    return [line.strip()[len("hint:"):].strip() for line in stderr.splitlines()
            if line.strip().startswith("hint:")]


def failure_message(subcommand: str, rc: int, doc: dict[str, Any] | None, stderr: str) -> str:
    """One line for the operator: velollm's own message(s), then its hint."""
    if rc == 2 and not doc:
        # argparse usage error: most often a velollm on the host that is too old for this module.
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "usage error"
        return (f"velollm {subcommand} was refused on this host ({last}); "
                "upgrade velollm on the host to a version that has this command")
    lines = _error_lines(doc)
    if not lines:
        lines = [line.strip()[len("error:"):].strip() if line.strip().startswith("error:")
                 else line.strip() for line in stderr.splitlines()
                 if line.strip() and not line.strip().startswith("hint:")]
    text = "; ".join(lines) or f"exit status {rc} and no message"
    hints = _hints(stderr)
    if hints:
        text += " (hint: " + "; ".join(hints) + ")"
    return f"velollm {subcommand} failed: {text}"


def _parse(stdout: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(stdout)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def run_json(module: Any, argv: list[str], env: dict[str, str],
             replace: tuple[str, str] | None = None) -> dict[str, Any]:
    """Run velollm; return its JSON document, or raise VelollmRunError with its message.

    `replace` swaps a temporary path in messages for the name the operator knows.
    """
    rc, stdout, stderr = module.run_command(argv, environ_update=env, check_rc=False)
    if replace:
        stdout, stderr = stdout.replace(*replace), stderr.replace(*replace)
    doc = _parse(stdout)
    subcommand = argv[1] if len(argv) > 1 else "velollm"
    if rc != 0:
        raise VelollmRunError(failure_message(subcommand, rc, doc, stderr), rc=rc,
                              stderr=stderr, errors=(doc or {}).get("errors", []), cmd=argv)
    if doc is None:
        raise VelollmRunError(f"velollm {subcommand} printed no JSON document on stdout",
                              rc=rc, stdout=stdout, stderr=stderr, cmd=argv)
    version = doc.get("format_version")
    if version != SUPPORTED_FORMAT_VERSION:
        raise VelollmRunError(
            f"velollm {subcommand} printed format_version {version!r}; this collection reads "
            f"version {SUPPORTED_FORMAT_VERSION}: upgrade the velollm.ollama collection",
            rc=rc, cmd=argv)
    return doc
