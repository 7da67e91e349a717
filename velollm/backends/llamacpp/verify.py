"""`velollm verify` for llama-server: gather the evidence, judge each setting (effects.py).

Evidence: the llama-server process holding the socket of the address verify talks to (its argv
and environment, current.py); /props, /slots and /metrics; the server's log when one is given
(--log FILE: the file its output goes to), used only when it is this server's current run (it
names the same port, and was written since the process started); the process's age against the
files velollm wrote ("not restarted" versus "never read"); its systemd unit, from its cgroup.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from velollm.backends.base import ServerProcess, Verification
from velollm.backends.llamacpp import current, effects, logs
from velollm.backends.llamacpp.client import LlamaServerClient
from velollm.errors import VelollmError
from velollm.io.processes import managed_files_ages, process_age_s, restarted_since

if TYPE_CHECKING:
    from velollm.backends.wire import ServerClient
    from velollm.io.state import State

_LOG_SLACK_S = 2.0  # a log written up to this long before the process's start is still its own


def managed_by(pid: int | None, proc: Path = Path("/proc")) -> tuple[str, str | None]:
    """(systemd | systemd-user | none, the unit): a unit whose name says llama runs it."""
    if pid is None:
        return "none", None
    try:
        text = (proc / str(pid) / "cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "none", None
    for line in text.splitlines():
        parts = line.split(":", 2)[-1].split("/")
        units = [p for p in parts if p.endswith(".service") and "llama" in p]
        if units:
            user = any(p.startswith("user@") for p in parts)
            return ("systemd-user" if user else "systemd"), units[-1]
    return "none", None


def _read_log(log_path: Path | None, base_url: str, age: float | None,
              notes: list[str]) -> logs.LogFacts | None:
    if log_path is None:
        return None
    facts = logs.parse(logs.read_log(log_path))
    _, port = current.split_url(base_url)
    if facts.listening is not None and current.split_url(facts.listening)[1] != port:
        notes.append(f"{log_path} is the log of the llama-server at {facts.listening}, not of "
                     f"{base_url}: not used")
        return None
    if age is not None:
        try:
            written = time.time() - os.stat(log_path).st_mtime
        except OSError:
            written = None
        if written is not None and written > age + _LOG_SLACK_S:
            notes.append(f"{log_path} was last written before the running llama-server started: "
                         "it is an earlier run's log, not used")
            return None
    if facts.listening is None and facts.n_slots is None:
        notes.append(f"{log_path} has no llama-server start-up lines (is it the server's log?)")
    return facts


def own_log_file(process: ServerProcess, proc: Path = Path("/proc")) -> Path | None:
    """The file the server logs to by itself (--log-file / LLAMA_ARG_LOG_FILE), resolved
    against its working directory; None when it logs to its standard output only."""
    flag = {"--log-file": "LLAMA_ARG_LOG_FILE"}
    args = current.parse_args(current.program_args(process.cmdline) or (), flag)
    name = args.get("LLAMA_ARG_LOG_FILE") or (process.environ or {}).get("LLAMA_ARG_LOG_FILE")
    if not name:
        return None
    path = Path(name).expanduser()
    if not path.is_absolute():
        try:
            path = Path(os.readlink(proc / str(process.pid) / "cwd")) / path
        except OSError:
            return None
    return path if path.is_file() else None


def _log_notes(log: logs.LogFacts | None) -> list[str]:
    """What the log says the server decided by itself (fit), or failed at."""
    if log is None:
        return []
    notes = []
    if log.fit_context_from is not None:
        notes.append(f"fit reduced the context from {log.fit_context_from} to "
                     f"{log.fit_context_to} tokens to fit the memory (its log)")
    if log.fit_result and log.fit_result.startswith("failed"):
        notes.append(f"the server's log says: {log.fit_result}")
    notes += [f"the server's log has an error: {e}" for e in log.errors[:3]]
    return notes


def _ask(client: LlamaServerClient, notes: list[str]
         ) -> tuple[dict[str, object] | None, bool | None, list[dict[str, object]]]:
    """(/props, whether /metrics is served, /slots) — what the server answers; a server that
    does not answer is a note (the process and the log may still tell)."""
    try:
        props: dict[str, object] | None = dict(client.props())
    except VelollmError as exc:
        notes.append(f"the server did not answer /props: {exc.message}")
        return None, None, []
    try:
        metrics_enabled: bool | None = client.metrics() is not None
    except VelollmError:
        metrics_enabled = None
    try:
        slots = client.slots()
    except VelollmError:
        slots = []
    return props, metrics_enabled, list(slots)


def verify(state: State, wanted: Mapping[str, str], target: str, client: ServerClient,
           version: str | None, *, log_path: Path | None, flag_env: Mapping[str, str],
           retired: Collection[str] = (), proc: Path = Path("/proc")) -> Verification:
    """Each wanted LLAMA_ARG_* setting: effective, not effective, or unknown, and why."""
    notes: list[str] = []
    llama = client if isinstance(client, LlamaServerClient) else \
        LlamaServerClient(client.base_url)
    process = current.find_server(llama.base_url, proc)
    age = None if process is None else process_age_s(process.pid, proc)
    settings = None if process is None else current.settings_of(process, flag_env)
    if process is None:
        notes.append(f"no llama-server process serving {llama.base_url} is visible on this "
                     "machine: only what the server answers can be checked")
    elif process.environ is None:
        notes.append(f"the environment of llama-server (pid {process.pid}) is not readable: run "
                     "verify as its user or as root")
    props, metrics_enabled, slots = _ask(llama, notes)
    if log_path is None and process is not None:
        log_path = own_log_file(process, proc)
        if log_path is not None:
            notes.append(f"read the log llama-server writes itself ({log_path}, --log-file)")
    log = _read_log(log_path, llama.base_url, age, notes)
    notes += _log_notes(log)
    if log is None and any(env in effects.LOG_ONLY for env in wanted):
        notes.append("flash attention, KV cache types, batch sizes and fit show only in the "
                     "server's log (llama-server -lv 4 writes them): give it to `velollm verify "
                     "--log FILE`, or start llama-server with --log-file FILE to have it found")
    elif log is not None and not log.verbose and any(env in effects.LOG_ONLY for env in wanted):
        notes.append(f"{log_path} is a default-verbosity log: start llama-server with -lv 4 "
                     "(LLAMA_ARG_LOG_VERBOSITY=4) to see flash attention, KV types and fit")
    how, unit = managed_by(None if process is None else process.pid, proc)
    files = tuple(rec.path for rec in state.files if not target or rec.target in ("", target))
    restarted = restarted_since(age, managed_files_ages(state, target, time.time()))
    ev = effects.Evidence(settings, None if process is None else process.pid, props, log,
                          metrics_enabled, current.split_url(llama.base_url)[1], target, how,
                          unit, restarted, tuple(str(f) for f in files))
    found = [effects.check(env, value, ev) for env, value in sorted(wanted.items())]
    found += effects.check_retired(settings, sorted(retired))
    return Verification(tuple(found), _server(ev, version, log_path, log, slots, props),
                        _loaded(llama, notes), tuple(notes))


def _server(ev: effects.Evidence, version: str | None, log_path: Path | None,
            log: logs.LogFacts | None, slots: list[dict[str, object]],
            props: dict[str, object] | None) -> dict[str, object]:
    props = props or {}
    gen = props.get("default_generation_settings")
    return {"pid": ev.pid, "managed_by": ev.managed_by, "unit": ev.unit,
            "restarted_since_apply": ev.restarted_since_apply, "backend": "llama-server",
            "build": version, "log": None if log is None or log_path is None else str(log_path),
            "model_path": props.get("model_path"), "total_slots": props.get("total_slots"),
            "n_ctx_per_slot": gen.get("n_ctx") if isinstance(gen, dict) else None,
            "slots_busy": sum(1 for s in slots if s.get("is_processing") is True),
            "metrics_endpoint": ev.metrics_enabled,
            "log_facts": None if log is None else log.as_dict()}


def _loaded(client: LlamaServerClient, notes: list[str]) -> tuple[dict[str, object], ...]:
    try:
        running = client.ps()
    except VelollmError as exc:
        notes.append(f"the server did not list its model: {exc.message}")
        return ()
    return tuple({"name": m.name, "expires_at": None, "context_length": m.context_length,
                  "size": m.size} for m in running)
