"""The sockets under velollm/io/http.py, and the watchdog that cuts a request at its deadline.

A socket timeout bounds each read, not a request: http.client reads a status line, the headers
and each chunk-size line with one timeout per read, so a server that sends them a byte at a time
never trips it. The watchdog knows the socket of the request in flight (the pools below record
it when they connect) and shuts it down when the deadline passes, which ends any read in progress;
http.py then reports the deadline, not the broken connection it leaves.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from velollm.io.answers import causes
from velollm.io.deadlines import Deadline


class Watchdog:
    """One client's: armed for each request, disarmed when its answer is read or abandoned."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        self._armed = 0  # which request the running timer belongs to

    def arm(self, at: float) -> None:
        """Cut whatever this client connects from now on at time.monotonic() `at`."""
        self.disarm()
        with self._lock:
            self._armed += 1
            timer = threading.Timer(max(0.0, at - time.monotonic()), self._cut, (self._armed,))
            timer.daemon = True
            self._timer = timer
        timer.start()

    def disarm(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
            self._sockets.clear()

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _cut(self, armed: int) -> None:
        with self._lock:
            if armed != self._armed:  # a timer that lost the race with disarm: not ours to cut
                return
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def pool_classes(watchdog: Watchdog) -> dict[str, Any]:
    """urllib3 connection pools whose connections tell `watchdog` their socket."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Watched(HTTPConnection):
        def connect(self) -> None:
            super().connect()
            watchdog.track(self.sock)

    class WatchedTls(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            watchdog.track(self.sock)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Watched

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = WatchedTls

    return {"http": Pool, "https": TlsPool}


def set_read_timeout(raw: Any, seconds: float) -> None:
    """Shorten the socket timeout of a response being read, so no read outlives the deadline."""
    fp = getattr(raw, "_fp", None)
    sock = getattr(getattr(fp, "fp", None), "raw", None)
    sock = getattr(sock, "_sock", sock)
    if sock is not None and hasattr(sock, "settimeout"):
        with contextlib.suppress(OSError):
            sock.settimeout(max(0.01, seconds))


def past(deadline: Deadline) -> bool:
    return time.monotonic() >= deadline.at - 0.005


def is_read_timeout(exc: BaseException) -> bool:
    from urllib3.exceptions import ReadTimeoutError

    return any(isinstance(node, (ReadTimeoutError, TimeoutError)) for node in causes(exc))
