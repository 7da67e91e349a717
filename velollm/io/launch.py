"""Start a server process of our own on a free loopback port, wait until it answers, stop it by PID.

For measurements that need a fresh server per candidate (speculative decoding, tuning): the
process is ours, so it is stopped by the PID we started, never by name. It runs in its own
session, so a ^C at the terminal reaches velollm (which stops it) and not the server half-way.
Its output goes to a log file that errors quote.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from velollm.errors import VelollmError

STOP_GRACE_S = 10.0


class LaunchError(VelollmError):
    """A server we started did not come up; the message quotes the end of its log."""


@dataclass(frozen=True)
class Launched:
    pid: int
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


def answers(server: str, path: str, accept: Callable[[object], bool]) -> Callable[[str], bool]:
    """A `ready` check for launched(): GET `path` answers 200 with a JSON body that `accept`
    takes (asked with short deadlines: it is polled while the server starts)."""
    def ready(base_url: str) -> bool:
        from velollm.io.http import Http, Limits

        http = Http(base_url, server, Limits(connect_s=0.5, deadline_s=2.0), retries=0)
        try:
            status, data = http.status("GET", path)
        except VelollmError:
            return False
        finally:
            http.close()
        return status == 200 and accept(data)

    return ready


def free_port() -> int:
    """A port free on 127.0.0.1 now (the kernel picks it; a race with another program is
    possible and shows as the server failing to bind, which `launched` reports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def launched(argv: Callable[[int], Sequence[str]], *, log_path: Path,
             ready: Callable[[str], bool], deadline_s: float, title: str,
             env: Mapping[str, str] | Callable[[int], Mapping[str, str]] | None = None
             ) -> Iterator[Launched]:
    """Run argv(port) until the block ends; `ready(base_url)` says when it serves. `env` is
    the whole environment, or env(port) for a server that takes its port from there (Ollama).

    Raises LaunchError when the process exits or is not ready within deadline_s; the process is
    stopped (SIGTERM, then SIGKILL after a grace period) whatever happens.
    """
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.Popen(list(argv(port)), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    env=None if env is None else
                                    dict(env(port) if callable(env) else env))
        except OSError as exc:
            raise LaunchError(f"cannot start {title}: {exc.strerror or exc}",
                              hint="check the binary path and its permissions") from None
    server = Launched(proc.pid, port, log_path)
    try:
        _wait_ready(proc, server, ready, deadline_s, title)
        yield server
    finally:
        stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], server: Launched, ready: Callable[[str], bool],
                deadline_s: float, title: str) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LaunchError(f"{title} exited with status {proc.returncode} while starting: "
                              f"{server.log_tail()}", hint=f"its whole log is {server.log_path}")
        if ready(server.base_url):
            return
        time.sleep(0.1)
    raise LaunchError(f"{title} did not answer within {deadline_s:g} s: {server.log_tail()}",
                      hint=f"its whole log is {server.log_path}; a large model may need a "
                           "longer --start-timeout")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process we started, by its PID: SIGTERM, then SIGKILL after the grace period."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
