"""What the Ollama server runs with now, and where each value comes from.

Sources, most authoritative first:
- the environment of the running `ollama serve` process (/proc/<pid>/environ, Linux, where readable);
- systemd: `systemctl show ollama -p Environment` and the drop-ins in ollama.service.d/;
- macOS: `launchctl getenv` for each OLLAMA_* name;
- the current shell environment (what `ollama serve` started from this shell would see).
The files velollm itself manages are read by the planner through state.py, not here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from velollm.backends.base import Observed, ServerProcess
from velollm.backends.ollama.host import connect_url, parse_host
from velollm.backends.ollama.names import SYSTEMD_UNIT
from velollm.io import systemd
from velollm.io.processes import find_processes

PROBE_TIMEOUT = 2.0
SYSTEMD_DIRS = systemd.UNIT_DIRS  # read_current's default


@dataclass(frozen=True)
class CurrentState:
    process: ServerProcess | None
    # Every source, each a map OLLAMA_X -> value, in priority order.
    sources: tuple[tuple[str, Mapping[str, str]], ...] = field(default_factory=tuple)

    def effective(self) -> dict[str, Observed]:
        """The value each variable has in the highest-priority source that sets it."""
        found: dict[str, Observed] = {}
        for source, values in self.sources:
            for name, value in values.items():
                found.setdefault(name, Observed(value, source))
        return found

    def to_dict(self) -> dict[str, object]:
        return {
            "process": None if self.process is None else {
                "pid": self.process.pid, "cmdline": list(self.process.cmdline),
                "environ_readable": self.process.environ is not None},
            "sources": [{"source": s, "values": dict(v)} for s, v in self.sources],
        }


def _ollama_only(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("OLLAMA_")}


def find_server_processes(proc: Path = Path("/proc")) -> list[ServerProcess]:
    """Every `ollama serve` visible here (its argv says so: no other process is read)."""
    def serves(argv: tuple[str, ...]) -> bool:
        return len(argv) >= 2 and "ollama" in Path(argv[0]).name and argv[1] == "serve"

    return [ServerProcess(pid, argv, environ) for pid, argv, environ
            in find_processes(serves, proc)]


def _run(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _systemd_sources(dirs: Iterable[Path]) -> list[tuple[str, Mapping[str, str]]]:
    sources: list[tuple[str, Mapping[str, str]]] = []
    shown = _run(["systemctl", "show", "ollama", "-p", "Environment", "--no-pager"])
    if shown:
        values = _ollama_only(systemd.parse_environment(shown))
        if values:
            sources.append(("systemctl show ollama", values))
    # Later drop-ins override earlier ones (systemd sorts them by file name).
    for dropin in reversed(systemd.dropins(SYSTEMD_UNIT, dirs)):
        try:
            values = _ollama_only(systemd.parse_environment(dropin.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
        if values:
            sources.append((f"systemd drop-in {dropin}", values))
    return sources


def _launchctl_source(names: Iterable[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in names:
        out = _run(["launchctl", "getenv", name])
        if out and out.strip():
            values[name] = out.rstrip("\n")
    return values


def read_current(*, known_names: Iterable[str], base_url: str | None = None,
                 environ: Mapping[str, str] | None = None, proc: Path = Path("/proc"),
                 systemd_dirs: Iterable[Path] = SYSTEMD_DIRS,
                 platform: str = sys.platform) -> CurrentState:
    """Collect every source for the server at `base_url` (None: Ollama's default host); the
    process is the one listening there (match_server), never just any `ollama serve`.
    `known_names` are the OLLAMA_* variables to ask launchctl about."""
    sources: list[tuple[str, Mapping[str, str]]] = []
    processes = find_server_processes(proc) if platform.startswith("linux") else []
    process = match_server(processes, base_url or parse_host(None))
    if process is not None and process.environ is not None:
        sources.append((f"running server (pid {process.pid})", _ollama_only(process.environ)))
    if platform.startswith("linux"):
        sources.extend(_systemd_sources(systemd_dirs))
    elif platform == "darwin":
        values = _launchctl_source(known_names)
        if values:
            sources.append(("launchctl getenv", values))
    shell = _ollama_only(os.environ if environ is None else environ)
    if shell:
        sources.append(("shell environment", shell))
    return CurrentState(process=process, sources=tuple(sources))


def endpoint(url: str) -> tuple[str, str]:
    """(host, port) with every loopback or wildcard address folded into "local"."""
    hostport = connect_url(url).split("://", 1)[-1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    return ("local" if host in ("127.0.0.1", "::1", "localhost") else host), port


def match_server(processes: Sequence[ServerProcess], base_url: str) -> ServerProcess | None:
    """The process serving `base_url`: the one whose OLLAMA_HOST gives the same port; a lone
    process whose environment cannot be read is taken as it is the only candidate."""
    want = endpoint(base_url)
    for p in processes:
        if p.environ is not None and endpoint(parse_host(p.environ.get("OLLAMA_HOST"))) == want:
            return p
    unreadable = [p for p in processes if p.environ is None]
    if len(processes) == 1 and unreadable and want[0] == "local":
        return unreadable[0]
    return None
