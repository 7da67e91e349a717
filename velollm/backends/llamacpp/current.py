"""What the running llama-server runs with now, and where each value comes from.

The process is the one that holds the listening socket of the configured host:port (/proc/net/tcp
and tcp6 give the socket's inode, the process's /proc/<pid>/fd links name it); only processes that
are llama-server are looked at, never an unrelated one's descriptors. Its settings come from its
command line and its environment, both turned into LLAMA_ARG_* names through the flag -> variable
map of the knob catalogue: llama-server reads a variable only when the flag is absent from its
command line, so the command line wins. A Debian-style wrapper starts the binary through the
dynamic loader (`ld-linux-x86-64.so.2 --library-path DIR .../llama-server ARGS`): argv[0] is then
the loader and the program comes after the loader's own options.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from velollm.backends.base import Observed, ServerProcess
from velollm.io.processes import find_processes

BINARY = "llama-server"
# The loader's options that take a value (glibc's ld.so --help), skipped to reach the program.
_LOADER_VALUE_OPTIONS = frozenset({"--library-path", "--preload", "--argv0", "--audit",
                                   "--inhibit-rpath", "--glibc-hwcaps-prepend",
                                   "--glibc-hwcaps-mask"})
_NUMBER = re.compile(r"-?\d+(\.\d+)?$")
_NEGATIVE_FLAG = re.compile(r"^--?no-|^-no[a-z]+$")  # --no-slots, -no-kvu, -nocb
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's st column
_LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "0.0.0.0", "::", ""})


def program_args(cmdline: Sequence[str]) -> tuple[str, ...] | None:
    """The arguments after the llama-server binary; None when the process is not llama-server."""
    if not cmdline:
        return None
    i = 0
    if Path(cmdline[0]).name.startswith(("ld-linux", "ld.so", "ld64.so")):
        i = 1
        while i < len(cmdline) and cmdline[i].startswith("--"):
            i += 2 if cmdline[i] in _LOADER_VALUE_OPTIONS else 1
    if i >= len(cmdline):
        return None
    name = Path(cmdline[i]).name
    if name != BINARY and not name.startswith(f"{BINARY}."):  # llama-server.exe under wine
        return None
    return tuple(cmdline[i + 1:])


def _takes_value(token: str) -> bool:
    return not token.startswith("-") or bool(_NUMBER.match(token))


def _switch_value(flag: str, env: str) -> str:
    """A flag given without a value: a switch. Its variable is true, except for a negative
    spelling of a positive variable (--no-slots -> LLAMA_ARG_ENDPOINT_SLOTS=false)."""
    negative = bool(_NEGATIVE_FLAG.match(flag)) and "_NO_" not in env
    return "false" if negative else "true"


def parse_args(args: Sequence[str], flag_env: Mapping[str, str]) -> dict[str, str]:
    """Command-line arguments -> {LLAMA_ARG_*: value}; flags the map lacks are left out, and
    the last occurrence of a flag wins, as in llama.cpp's own parser."""
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        token = args[i]
        flag, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        env = flag_env.get(flag)
        i += 1
        if env is None:
            continue
        if eq:
            values[env] = inline
        elif i < len(args) and _takes_value(args[i]):
            values[env] = args[i]
            i += 1
        else:
            values[env] = _switch_value(flag, env)
    return values


def settings_of(process: ServerProcess, flag_env: Mapping[str, str]) -> dict[str, Observed]:
    """The LLAMA_ARG_* settings of one llama-server process: environment, then command line."""
    found: dict[str, Observed] = {}
    if process.environ is not None:
        for name, value in process.environ.items():
            if name.startswith("LLAMA_ARG_"):
                found[name] = Observed(value, f"running server (pid {process.pid}) environment")
    args = program_args(process.cmdline) or ()
    for name, value in parse_args(args, flag_env).items():
        found[name] = Observed(value, f"running server (pid {process.pid}) command line")
    return found


# -- which process serves host:port ---------------------------------------------------------------
def split_url(base_url: str) -> tuple[str, int | None]:
    """(host, port) of an http:// URL; port None when the URL names none."""
    rest = base_url.split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail.lstrip(":")
    else:
        host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    return host, int(port) if port.isdigit() else None


def _hex_address(text: str) -> str:
    """/proc/net/tcp's little-endian hex address -> dotted or colon text (loopback checks)."""
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return ".".join(str(b) for b in reversed(raw))
    words = [raw[i:i + 4][::-1].hex() for i in range(0, 16, 4)]
    full = "".join(words)
    if full == "0" * 32:
        return "::"
    if full == "0" * 31 + "1":
        return "::1"
    if full.startswith("0" * 20 + "ffff"):  # ::ffff:a.b.c.d
        return ".".join(str(b) for b in bytes.fromhex(full[24:]))
    return ":".join(full[i:i + 4] for i in range(0, 32, 4))


def listening_inodes(port: int, host: str, proc: Path = Path("/proc")) -> set[str]:
    """Inodes of the sockets listening on `port` at an address that `host` reaches."""
    inodes: set[str] = set()
    local = host in _LOCAL_HOSTS
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10 or cols[3] != _LISTEN:
                continue
            addr, _, hexport = cols[1].partition(":")
            if int(hexport, 16) != port:
                continue
            bound = _hex_address(addr)
            wildcard = bound in ("0.0.0.0", "::")
            if wildcard or (local and bound in _LOCAL_HOSTS) or bound == host \
                    or bound.startswith("127."):
                inodes.add(cols[9])
    return inodes


def find_server_processes(proc: Path = Path("/proc")) -> list[ServerProcess]:
    """Every llama-server process visible here (its argv says so: no other process is read)."""
    return [ServerProcess(pid, argv, environ) for pid, argv, environ
            in find_processes(lambda argv: program_args(argv) is not None, proc)]


def _holds(pid: int, inodes: set[str], proc: Path) -> bool | None:
    """Whether the process holds one of the sockets; None when its descriptors are unreadable."""
    fd_dir = proc / str(pid) / "fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for name in names:
        try:
            if os.readlink(fd_dir / name) in wanted:
                return True
        except OSError:
            continue
    return False


def _declared_port(process: ServerProcess) -> int | None:
    """The port its command line or environment asks for (the build's default otherwise)."""
    args = parse_args(program_args(process.cmdline) or (), {"--port": "LLAMA_ARG_PORT"})
    port = args.get("LLAMA_ARG_PORT") or (process.environ or {}).get("LLAMA_ARG_PORT")
    return int(port) if port and port.isdigit() else None


def match_server(processes: Sequence[ServerProcess], base_url: str,
                 proc: Path = Path("/proc")) -> ServerProcess | None:
    """The llama-server serving base_url: the one holding its listening socket; where the
    descriptors cannot be read (another user's process), the one whose --port says so."""
    host, port = split_url(base_url)
    if port is None or not processes:
        return None
    inodes = listening_inodes(port, host, proc)
    unreadable: list[ServerProcess] = []
    for p in processes:
        # no listening socket seen (another network namespace): the declared port decides
        holds = _holds(p.pid, inodes, proc) if inodes else None
        if holds:
            return p
        if holds is None:
            unreadable.append(p)
    return next((p for p in unreadable if _declared_port(p) == port), None)


def find_server(base_url: str, proc: Path = Path("/proc")) -> ServerProcess | None:
    return match_server(find_server_processes(proc), base_url, proc)


def settings_now(base_url: str, flag_env: Mapping[str, str], *,
                 environ: Mapping[str, str] | None = None,
                 proc: Path = Path("/proc")) -> dict[str, Observed]:
    """{LLAMA_ARG_*: Observed}: the running server's, else what a llama-server started from this
    shell would read (its LLAMA_ARG_* variables)."""
    process = find_server(base_url, proc)
    found = {} if process is None else settings_of(process, flag_env)
    shell = os.environ if environ is None else environ
    for name, value in shell.items():
        if name.startswith("LLAMA_ARG_"):
            found.setdefault(name, Observed(value, "shell environment"))
    return found


def server_pid(base_url: str) -> int | None:
    """The pid of the llama-server serving base_url here (the client's find_pid)."""
    process = find_server(base_url)
    return None if process is None else process.pid


def server_version(base_url: str) -> str | None:
    """"b11669" from /props build_info; None when the server cannot be asked or does not say."""
    from velollm.backends.llamacpp.client import LlamaServerClient
    from velollm.errors import VelollmError

    client = LlamaServerClient(base_url, retries=0)
    try:
        return client.build()
    except VelollmError:
        return None
    finally:
        client.close()
