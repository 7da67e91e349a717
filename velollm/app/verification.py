"""The I/O shell of `velollm verify`: gather the evidence, hand it to the pure effect check.

Evidence (velollm/effect.py decides with it):
- the environment of the `ollama serve` process that listens at the host verify talks to
  (/proc/<pid>/environ; several servers are told apart by their OLLAMA_HOST port);
- the server's log, where one is known (--log FILE): its `server config` line and the lines with
  which it says it ignored a variable, plus the runner's `--parallel` slots;
- /api/ps: `expires_at` and, from Ollama 0.10, `context_length` of each loaded model;
- whether the process started after velollm last wrote its file (ages from /proc, see
  `process_age_s`), which tells "not restarted" apart from "never read".
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from velollm.backends.ollama import knobs
from velollm.backends.ollama.client import RunningModel
from velollm.backends.ollama.current import ServerProcess, find_server_processes
from velollm.backends.ollama.host import connect_url, parse_host
from velollm.backends.ollama.install import SYSTEMD_UNIT
from velollm.core import effect, gotypes
from velollm.errors import VelollmError
from velollm.io import systemd
from velollm.io.state import State

EXIT_NOT_EFFECTIVE = 4
EXIT_REGRESSED = 5
# Two ages closer than this cannot be ordered (/proc/uptime has 10 ms steps, and so do ticks).
_AGE_TOLERANCE_S = 0.05
_EXPIRY_SLACK_S = 5.0  # clock skew between server and verify, rounding
_RUNNER = re.compile(r"starting llama server\"? cmd=.*?--parallel (\d+)")
_ENV_TO_KEY = {k.env: k.key for k in knobs.SERVER_KNOBS.values()}


class NothingAppliedError(VelollmError):
    pass


@dataclass(frozen=True)
class Gathered:
    """Everything verify observed, kept for the report and its JSON twin."""

    evidence: effect.Evidence
    process: ServerProcess | None
    log_path: Path | None
    runner_parallel: int | None
    loaded: tuple[RunningModel, ...]
    notes: tuple[str, ...]


def wanted_settings(state: State) -> tuple[dict[str, str], str]:
    """(env, target kind) velollm last applied; a clear error when nothing was applied yet."""
    env = state.settings.get("env")
    if not state.files or not isinstance(env, dict):
        raise NothingAppliedError("velollm has not applied a configuration on this machine yet",
                                  hint="run `velollm plan` and `velollm apply` first")
    return {str(k): str(v) for k, v in env.items()}, str(state.settings.get("target") or "")


def _same_duration(wanted: str, logged: str) -> bool:
    w, lg = knobs.duration_seconds(wanted), knobs.duration_seconds(logged)
    if w is None or lg is None:
        return False
    if w < 0:  # Ollama turns a negative keep-alive into Go's largest duration: "forever"
        return lg >= gotypes.MAX_DURATION_S
    return abs(w - lg) < 1e-6


def normalize_log(log_config: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The log prints durations Go-formatted (30m -> 30m0s): where a logged duration equals the
    wanted one by value, use the wanted text so the effect check compares like with like."""
    out = dict(log_config)
    for env, value in wanted.items():
        knob = knobs.SERVER_KNOBS.get(_ENV_TO_KEY.get(env, ""))
        logged = out.get(env)
        if knob is not None and knob.type == "duration" and logged is not None \
                and _same_duration(value, logged):
            out[env] = value
    return out


def _endpoint(url: str) -> tuple[str, str]:
    """(host, port) with every loopback or wildcard address folded into "local"."""
    hostport = connect_url(url).split("://", 1)[-1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    return ("local" if host in ("127.0.0.1", "::1", "localhost") else host), port


def match_server(processes: Sequence[ServerProcess], base_url: str) -> ServerProcess | None:
    """The process serving `base_url`: the one whose OLLAMA_HOST gives the same port; a lone
    process whose environment cannot be read is taken as it is the only candidate."""
    want = _endpoint(base_url)
    for p in processes:
        if p.environ is not None and _endpoint(parse_host(p.environ.get("OLLAMA_HOST"))) == want:
            return p
    unreadable = [p for p in processes if p.environ is None]
    if len(processes) == 1 and unreadable and want[0] == "local":
        return unreadable[0]
    return None


def process_age_s(pid: int, proc: Path = Path("/proc")) -> float | None:
    """Seconds since the process started: /proc/uptime minus its start tick (field 22 of stat).

    Ages, not wall-clock times: both come from the same boot clock, so no NTP step or integer
    btime rounding gets between them."""
    try:
        uptime = float((proc / "uptime").read_text().split()[0])
        stat = (proc / str(pid) / "stat").read_text()
    except (OSError, ValueError, IndexError):
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # the command name may contain spaces
    try:
        start_ticks = int(fields[19])  # field 22 overall; fields[0] is field 3
    except (IndexError, ValueError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def restarted_since(process_age: float | None, file_ages: Sequence[float]) -> bool | None:
    """True when the server started after the newest managed file was written; None: unknown."""
    if process_age is None or not file_ages:
        return None
    newest = min(file_ages)
    if abs(newest - process_age) < _AGE_TOLERANCE_S:
        return None
    return process_age < newest


def managed_files_ages(state: State, target: str, now: float) -> list[float]:
    ages = []
    for rec in state.files:
        if rec.target and target and rec.target != target:
            continue
        try:
            ages.append(now - os.stat(rec.path).st_mtime)
        except OSError:
            continue
    return ages


def managed_by(pid: int | None, proc: Path = Path("/proc")) -> str:
    """systemd when the process runs in ollama.service's cgroup; none otherwise (Linux only)."""
    in_unit = pid is not None and systemd.in_unit_cgroup(pid, SYSTEMD_UNIT, proc)
    return "systemd" if in_unit else "none"


def runner_parallel(log_text: str) -> int | None:
    """Slots of the last runner started since the server's last start (0.5.4 logs `--parallel`)."""
    start = log_text.rfind("server config")
    matches = _RUNNER.findall(log_text[max(start, 0):])
    return int(matches[-1]) if matches else None


def read_log(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise VelollmError(f"cannot read the Ollama log {path}: {exc.strerror}", path=str(path),
                           hint="pass the file `ollama serve` writes its output to") from None


def gather(state: State, wanted: Mapping[str, str], target: str, base_url: str, *,
           log_path: Path | None, loaded: Sequence[RunningModel],
           proc: Path = Path("/proc")) -> Gathered:
    notes: list[str] = []
    process = match_server(find_server_processes(proc), base_url)
    log_config: dict[str, str] | None = None
    ignored: dict[str, str] = {}
    parallel: int | None = None
    if log_path is not None:
        text = read_log(log_path)
        parsed = effect.parse_server_config(text)
        logged_host = (parsed or {}).get("OLLAMA_HOST")
        if logged_host and _endpoint(parse_host(logged_host)) != _endpoint(base_url):
            notes.append(f"{log_path} is the log of the server at {logged_host}, not of "
                         f"{base_url}: not used")
        else:
            log_config = None if parsed is None else normalize_log(parsed, wanted)
            ignored = effect.ignored_by_log(text)
            parallel = runner_parallel(text)
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
    return Gathered(evidence, process, log_path if log_config is not None else None, parallel,
                    tuple(loaded), tuple(notes))


def version_reads(version: str | None) -> Callable[[str], str | None]:
    def reads(env: str) -> str | None:
        key = _ENV_TO_KEY.get(env)
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
    """What the server does can contradict what its environment says: its runner's slots
    (log), a loaded model's expiry (/api/ps, moved by a request's keep_alive)."""
    if e.status != "effective":
        return e
    if e.env == "OLLAMA_NUM_PARALLEL" and g.runner_parallel is not None \
            and str(g.runner_parallel) != e.wanted.strip():
        return replace(e, status="not effective", observed=str(g.runner_parallel),
                       why=f"the model runner was started with --parallel {g.runner_parallel} "
                           "(its log)")
    if e.env == "OLLAMA_KEEP_ALIVE":
        for m in g.loaded:
            if keep_alive_overridden(e.wanted, m.expires_at, now):
                return replace(e, status="not effective", observed=f"expires_at {m.expires_at}",
                               why=f"{m.name} stays loaded longer than {e.wanted} (/api/ps "
                                   "expires_at): a request's keep_alive overrides the setting")
    return e


def _epoch(rfc3339: str) -> float | None:
    """Ollama's expires_at (Go RFC 3339, nanoseconds) as a POSIX time."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", rfc3339.strip()).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def keep_alive_overridden(wanted: str, expires_at: str, now: float) -> bool:
    """True when a model expires later than the server's keep-alive allows: the expiry is set to
    last request + keep-alive, so only a request's own keep_alive can push it further."""
    keep, expires = knobs.duration_seconds(wanted), _epoch(expires_at)
    if keep is None or expires is None or keep < 0:
        return False  # forever (negative) cannot be exceeded
    return expires - now > keep + _EXPIRY_SLACK_S


def exit_code(effects: Sequence[effect.Effect], benchmark: str | None) -> int:
    """0: no setting known to be ineffective and no confirmed regression; 4: a setting is not
    effective (checked first: a benchmark of settings not in force proves nothing); 5: the
    benchmark confirmed a regression. `unknown` and `inconclusive` are reported, not failed."""
    if any(e.status == "not effective" for e in effects):
        return EXIT_NOT_EFFECTIVE
    if benchmark == "regressed":
        return EXIT_REGRESSED
    return 0
