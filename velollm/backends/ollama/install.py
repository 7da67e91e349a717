"""The Ollama install: binary and version, how it is run (systemd / launchd / app), and the server.

The server check first tries a plain TCP connect: when nothing listens (the common case on a machine
being set up) we answer in a millisecond without importing requests through the client.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from velollm.backends.ollama.host import connect_url, parse_host
from velollm.backends.ollama.names import SYSTEMD_UNIT
from velollm.core.hardware import ManagedBy, Probe, ProbeStatus
from velollm.io import systemd
from velollm.io.hardware.runner import ProbeContext, run_tool

APP = "/Applications/Ollama.app"
LAUNCHD_DIRS = ("Library/LaunchAgents",)  # under HOME; plus the system dirs below
SYSTEM_LAUNCHD_DIRS = ("/Library/LaunchAgents", "/Library/LaunchDaemons")
_VERSION = re.compile(r"version is\s+v?(\S+)")


@dataclass(frozen=True)
class Install:
    path: str | None
    version: str | None
    managed_by: ManagedBy
    systemd_unit: str | None
    systemd_dropins: tuple[str, ...]


@dataclass(frozen=True)
class Server:
    host: str
    reachable: bool
    version: str | None


def parse_version(text: str) -> str | None:
    """`ollama version is 0.5.7`, or `Warning: client version is 0.5.7` when no server runs."""
    match = _VERSION.search(text)
    return match.group(1) if match else None


def probe_install(ctx: ProbeContext, timeout: float) -> tuple[Install, Probe]:
    path = ctx.which("ollama")
    version = None
    detail = "ollama not found on PATH"
    status: ProbeStatus = "absent"
    if path is not None:
        result = run_tool(["ollama", "--version"], timeout=ctx.budget(timeout), which=ctx.which,
                          env=ctx.environ)
        version = parse_version(f"{result.stdout}\n{result.stderr}")
        detail = f"{path}, version {version}" if version else f"{path}: {result.detail}"
        # Installed but `--version` hung or failed: say so rather than a plain "ok".
        status = "ok" if version or result.status == "ok" else result.status
    unit, dropins = systemd_unit(ctx)
    managed = _managed_by(ctx, unit)
    if status == "absent" and managed != "none":
        status = "ok"  # a service or app without the CLI on PATH
    install = Install(path, version, managed, unit, dropins)
    return install, Probe("ollama", status, f"{detail}; managed by {managed}")


def systemd_unit(ctx: ProbeContext) -> tuple[str | None, tuple[str, ...]]:
    """(the unit file, its drop-ins in the order systemd applies them), as paths on the host."""
    unit = systemd.unit_file(SYSTEMD_UNIT, root=ctx.root)
    dropins = systemd.dropins(SYSTEMD_UNIT, root=ctx.root)
    return (None if unit is None else str(unit)), tuple(str(p) for p in dropins)


def _managed_by(ctx: ProbeContext, unit: str | None) -> ManagedBy:
    if unit is not None:
        return "systemd"
    agent_dirs = [ctx.user_home() / d for d in LAUNCHD_DIRS]
    agent_dirs += [ctx.path(d) for d in SYSTEM_LAUNCHD_DIRS]
    for directory in agent_dirs:
        if directory.is_dir() and any("ollama" in p.name.lower() for p in directory.iterdir()):
            return "launchd"  # e.g. Homebrew's homebrew.mxcl.ollama.plist
    if ctx.path(APP).is_dir():
        return "app"
    return "none"


def probe_server(ctx: ProbeContext, timeout: float) -> tuple[Server, Probe]:
    host = parse_host(ctx.environ.get("OLLAMA_HOST"))
    connected = _connect(connect_url(host), ctx.budget(timeout))
    if connected != "ok":
        detail = (f"nothing listens at {host}" if connected == "absent"
                  else f"connecting to {host} timed out")
        return Server(host, False, None), Probe("ollama-server", connected, detail)
    from velollm.backends.ollama.client import OllamaClient
    from velollm.errors import ServerTimeoutError, VelollmError

    left = ctx.budget(timeout)
    client = OllamaClient(host, connect_timeout=left, read_timeout=left)
    try:
        version = client.version()
    except ServerTimeoutError as exc:  # a server is there, busy: not the same as none at all
        return Server(host, False, None), Probe("ollama-server", "timeout", str(exc))
    except (VelollmError, ValueError) as exc:
        return Server(host, False, None), Probe("ollama-server", "error", str(exc))
    return Server(host, True, version or None), Probe("ollama-server", "ok",
                                                      f"{host} answers, version {version}")


def _connect(url: str, timeout: float) -> ProbeStatus:
    """"ok": something listens; "absent": refused; "timeout": no answer in time (a firewall that
    drops packets, a slow name lookup), which says nothing about whether a server is there."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (
        443 if parts.scheme == "https" else 80)
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:  # a name: resolve it (getaddrinfo pulls in the idna codec, ~2 ms)
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return "ok"
        except TimeoutError:
            return "timeout"
        except OSError:
            return "absent"
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            code = sock.connect_ex((host, port))
    except OSError:  # e.g. IPv6 disabled on this host
        return "absent"
    if code == 0:
        return "ok"
    # connect_ex reports its own timeout as EWOULDBLOCK (CPython's SOCK_TIMEOUT_ERR)
    return "timeout" if code in (errno.EWOULDBLOCK, errno.EAGAIN, errno.ETIMEDOUT) else "absent"
