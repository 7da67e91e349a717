"""Did each setting reach the running Ollama? The evidence, gathered for the pure effect check.

Evidence (velollm/core/effect.py decides with it):
- the environment of the `ollama serve` process that listens at the host verify talks to
  (/proc/<pid>/environ; several servers are told apart by their OLLAMA_HOST port);
- the server's log, where one is known (--log FILE): its `server config` line and the lines with
  which it says it ignored a variable, plus what its last model load really ran with (slots,
  context, flash attention, KV cache types: runnerlog.py, every log format 0.5.4-0.33);
- /api/ps: `expires_at` and, from Ollama 0.10, `context_length` of each loaded model;
- whether the process started after velollm last wrote its file (ages from /proc), which tells
  "not restarted" apart from "never read".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from velollm.backends.base import ServerProcess
from velollm.backends.ollama import knobs
from velollm.backends.ollama.current import (
    endpoint,
    find_server_processes,
    match_server,
)
from velollm.backends.ollama.host import parse_host
from velollm.backends.ollama.knobdata import SINGLE_SLOT_ARCHS
from velollm.backends.ollama.logs import (
    ignored_by_log,
    normalize_log,
    parse_server_config,
    read_log,
)
from velollm.backends.ollama.names import SYSTEMD_UNIT
from velollm.backends.ollama.runnerlog import RunnerLoad, last_load
from velollm.backends.wire import RunningModel
from velollm.core import effect, gotypes
from velollm.io import systemd
from velollm.io.processes import managed_files_ages, process_age_s, restarted_since
from velollm.io.state import State

_EXPIRY_SLACK_S = 5.0  # clock skew between server and verify, rounding

@dataclass(frozen=True)
class Gathered:
    """Everything verify observed, kept for the report and its JSON twin."""

    evidence: effect.Evidence
    process: ServerProcess | None
    log_path: Path | None
    runner: RunnerLoad | None  # the last model load, from the log
    loaded: tuple[RunningModel, ...]
    notes: tuple[str, ...]
    context_pinned: bool = False  # velollm wrote a model's num_ctx: it overrides the default

    @property
    def runner_parallel(self) -> int | None:
        return None if self.runner is None else self.runner.parallel


def managed_by(pid: int | None, proc: Path = Path("/proc")) -> str:
    """systemd when the process runs in ollama.service's cgroup; none otherwise (Linux only)."""
    in_unit = pid is not None and systemd.in_unit_cgroup(pid, SYSTEMD_UNIT, proc)
    return "systemd" if in_unit else "none"


def gather(state: State, wanted: Mapping[str, str], target: str, base_url: str, *,
           log_path: Path | None, loaded: Sequence[RunningModel],
           proc: Path = Path("/proc")) -> Gathered:
    notes: list[str] = []
    process = match_server(find_server_processes(proc), base_url)
    log_config: dict[str, str] | None = None
    ignored: dict[str, str] = {}
    runner: RunnerLoad | None = None
    if log_path is not None:
        text = read_log(log_path)
        parsed = parse_server_config(text)
        logged_host = (parsed or {}).get("OLLAMA_HOST")
        if logged_host and endpoint(parse_host(logged_host)) != endpoint(base_url):
            notes.append(f"{log_path} is the log of the server at {logged_host}, not of "
                         f"{base_url}: not used")
        else:
            log_config = None if parsed is None else normalize_log(parsed, wanted)
            ignored = ignored_by_log(text)
            runner = last_load(text)
            if parsed is None:
                notes.append(f"{log_path} has no `server config` line (is it the server's log?)")
    if process is None:
        notes.append(f"no `ollama serve` process serving {base_url} is visible on this machine")
    elif process.environ is None:
        notes.append(f"the environment of ollama serve (pid {process.pid}) is not readable: run "
                     "verify as its user or as root, or pass its log with --log")
    age = None if process is None else process_age_s(process.pid, proc)
    restarted = restarted_since(age, managed_files_ages(state, target, time.time()))
    evidence = effect.Evidence(
        process_env=None if process is None or process.environ is None else process.environ,
        log_config=log_config, server_managed_by=managed_by(None if process is None
                                                            else process.pid, proc),
        target_kind=target, restarted_since_apply=restarted, ignored=ignored)
    models = state.settings.get("models")
    pinned = isinstance(models, dict) and any(
        isinstance(p, dict) and "num_ctx" in p for p in models.values())
    return Gathered(evidence, process, log_path if log_config is not None else None, runner,
                    tuple(loaded), tuple(notes), context_pinned=pinned)


def version_reads(version: str | None) -> Callable[[str], str | None]:
    def reads(env: str) -> str | None:
        key = knobs.ENV_TO_KEY.get(env)
        if key is None:
            return None  # not in the catalogue: let the observed environment decide
        return knobs.why_not_read(key, version) or None
    return reads


def check(wanted: Mapping[str, str], gathered: Gathered,
          version: str | None) -> list[effect.Effect]:
    effects = effect.check_effects(wanted, gathered.evidence, version_reads=version_reads(version))
    now = time.time()
    return [_corroborate(e, gathered, now) for e in effects]


def _corroborate(e: effect.Effect, g: Gathered, now: float) -> effect.Effect:
    """What the server does can contradict what its environment says: its last model load
    (log), a loaded model's expiry (/api/ps, moved by a request's keep_alive)."""
    if e.status != "effective" or e.wanted is None:
        return e
    if g.runner is not None and (contradiction := _runner_contradicts(e, g)):
        observed, why = contradiction
        return replace(e, status="not effective", observed=observed, why=why)
    if e.env == "OLLAMA_KEEP_ALIVE":
        for m in g.loaded:
            if keep_alive_overridden(e.wanted, m.expires_at, now):
                return replace(e, status="not effective", observed=f"expires_at {m.expires_at}",
                               why=f"{m.name} stays loaded longer than {e.wanted} (/api/ps "
                                   "expires_at): a request's keep_alive overrides the setting")
    return e


def _runner_contradicts(e: effect.Effect, g: Gathered) -> tuple[str, str] | None:
    """(observed, why) when the last model load ran otherwise than the setting says."""
    load, wanted = g.runner, (e.wanted or "").strip()
    assert load is not None
    if e.env == "OLLAMA_NUM_PARALLEL" and load.parallel is not None \
            and str(load.parallel) != wanted and load.architecture not in SINGLE_SLOT_ARCHS:
        return str(load.parallel), (f"the last model load ran with {load.parallel} slot(s) "
                                    f"({load.era} in its log)")
    if e.env == "OLLAMA_CONTEXT_LENGTH" and not g.context_pinned and not load.context_capped \
            and load.context_per_slot is not None and str(load.context_per_slot) != wanted \
            and wanted.isdigit() and int(wanted) > 0:
        return str(load.context_per_slot), (
            f"the last model load ran with {load.context_per_slot} tokens per slot ({load.era} "
            "in its log): this server does not size the context from it, or that model's "
            "Modelfile or a request's num_ctx set its own")
    if e.env == "OLLAMA_FLASH_ATTENTION" and load.flash_attention_used is not None \
            and load.flash_attention_used != (gotypes.parse_bool(wanted) is not False):
        used = "on" if load.flash_attention_used else "off"
        return used, f"llama.cpp ran the last model load with flash attention {used} (its log)"
    if e.env == "OLLAMA_KV_CACHE_TYPE" and load.kv_types is not None \
            and wanted.lower() not in ("", "f16") and load.kv_types != (wanted.lower(),) * 2:
        k, v = load.kv_types
        return f"K {k}, V {v}", (f"llama.cpp allocated the KV cache of the last model load "
                                 f"as K {k}, V {v} (its log)")
    return None


def keep_alive_overridden(wanted: str, expires_at: str, now: float) -> bool:
    """True when a model expires later than the server's keep-alive allows: the expiry is set to
    last request + keep-alive, so only a request's own keep_alive can push it further."""
    keep, expires = knobs.duration_seconds(wanted), gotypes.parse_time(expires_at)
    if keep is None or expires is None or keep < 0:
        return False  # forever (negative) cannot be exceeded
    return expires - now > keep + _EXPIRY_SLACK_S
