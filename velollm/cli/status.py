"""`velollm status`: what velollm applied, whether its files are still as written, and whether the
running server has each setting.

Reports, never fails on what it finds: exit 0, also when a file drifted, a setting is not effective
or the server is down; 1 only when the state cannot be read (2: a --host it cannot use).
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from velollm.cli._deadlines import add_deadline_options, bounded
from velollm.output import OUT

if TYPE_CHECKING:
    from velollm.backends.base import Backend
    from velollm.io.state import FileRecord, State

HELP = "what velollm applied, whether its files drifted, and what the running server has"
NOTHING_APPLIED = "Nothing applied yet: velollm has not written any settings on this machine."
SUGGEST_PLAN = "Run `velollm plan` to see what it would change, then `velollm apply`."
DRIFT_NOTE = ("a file changed outside velollm: `velollm plan` shows the difference, "
              "`velollm apply` writes velollm's version again")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "status", parents=[common], help=HELP,
        description=HELP + ": each file with its target, when it was written and whether it "
                           "still matches; each setting effective / not effective / unknown on "
                           "the running server (as `velollm verify --skip-benchmark`). Exit 0 "
                           "whatever it finds; 1: the state cannot be read.")
    p.add_argument("--host", metavar="URL",
                   help="the server to check (default: from OLLAMA_HOST, else "
                        "http://127.0.0.1:11434)")
    add_deadline_options(p, 30.0, answer_s=10.0)  # a version, the loaded models


def run(args: argparse.Namespace) -> int:
    with bounded(args):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from velollm.app import verification
    from velollm.backends import get_backend
    from velollm.io.state import load_state

    state = load_state()  # unreadable or damaged: StateError, exit 1
    backend = get_backend(verification.applied_backend(state))
    url = backend.base_url(args.host)  # a --host it cannot use: a usage error, exit 2
    doc = document(state, backend, url)
    if OUT.json_mode:
        OUT.json(doc)
    else:
        from velollm.report.status import render

        render(doc, OUT)
    return 0


def document(state: State, backend: Backend, url: str) -> dict[str, Any]:
    """status's JSON document (the dashboard's Configuration panel shows it too)."""
    if not state.files:
        return {"status": "ok", "applied": False, "files": [], "settings": [],
                "msg": NOTHING_APPLIED, "hint": SUGGEST_PLAN}
    return _applied(state, backend, url)


def _applied(state: State, backend: Backend, url: str) -> dict[str, Any]:
    env = state.settings.get("env")
    wanted = {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}
    target = str(state.settings.get("target") or "")
    files = [_file(rec) for rec in state.files]
    notes = [DRIFT_NOTE] if any(f["drift"] in ("changed", "missing") for f in files) else []
    notes += [f"cannot read {f['path']}: run status as its owner (or with sudo) to check it"
              for f in files if f["drift"] == "unreadable"]
    server, settings = _server(state, backend, url, wanted, target, notes)
    models = state.settings.get("models")
    return {"status": "ok", "applied": True, "applied_at": _iso_stamp(state.applied_at),
            "plan_id": state.plan_id or None,
            "backend": {"name": backend.name, "title": backend.title},
            "target": target or None, "target_path": state.settings.get("target_path"),
            "files": files, "server": server, "settings": settings,
            "model_params": models if isinstance(models, dict) else {}, "notes": notes}


def _server(state: State, backend: Backend, url: str, wanted: dict[str, str], target: str,
            notes: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(server, settings): the backend's evidence, as `verify --skip-benchmark` gathers it."""
    from velollm.errors import ServerResponseError, ServerUnreachableError

    client = backend.client(url)
    try:
        version = client.version()
        found = backend.verify(state, wanted, target, client, version, log_path=None, models={})
    except (ServerUnreachableError, ServerResponseError) as exc:
        # refused or no route: "server not reachable at URL"; timed out or a bad answer: its
        # message ("Ollama at URL did not answer ...", "Ollama answered ... with HTTP 404")
        down = type(exc) is ServerUnreachableError
        error = f"not reachable at {client.base_url}" if down else exc.message
        why = f"server {error}" if down else error
        settings = [{"env": env, "wanted": value, "observed": None, "status": "unknown",
                     "why": why} for env, value in sorted(wanted.items())]
        return {"url": client.base_url, "reachable": False, "version": None, "error": error}, \
            settings
    finally:
        client.close()
    notes.extend(found.notes)
    settings = [e.as_dict() for e in found.effects]
    return {"url": client.base_url, "reachable": True, "version": version, "error": None,
            **found.server}, settings


def _file(rec: FileRecord) -> dict[str, Any]:
    """A managed file: does it still hold the bytes velollm wrote, and when was it written (its
    mtime, as verify's "restarted since" reads it: velollm's write while the file matches)."""
    from velollm.io.state import file_hash

    try:
        actual = file_hash(rec.path)
        drift = "none" if actual == rec.sha256 else "missing" if actual is None else "changed"
    except OSError:
        drift = "unreadable"
    try:
        written: str | None = datetime.fromtimestamp(os.stat(rec.path).st_mtime,
                                                     timezone.utc).isoformat()
    except OSError:
        written = None
    return {"path": rec.path, "target": rec.target or None, "written_at": written,
            "drift": drift, "matches": drift == "none", "created": rec.created,
            "backup": rec.backup}


def _iso_stamp(stamp: str) -> str | None:
    """state.json's applied_at (20240501T120312123456Z, UTC) as ISO 8601; None when absent."""
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(
            tzinfo=timezone.utc).isoformat()
    except ValueError:
        return stamp or None
