"""The dashboard's HTTP server: the standard library's ThreadingHTTPServer, GET only.

Why not a framework: the dashboard is one page and three JSON documents on loopback; routing is a
dict, and http.server is always there (no dependency to install, audit or keep up). What a
framework would add, this module does itself in a few lines: refuse a Host header that is not
the address served (DNS rebinding: a web page elsewhere must not read the dashboard through a
name that resolves to 127.0.0.1), and send headers that keep the page self-contained (a
Content-Security-Policy allowing no other origin).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from velollm.errors import UsageError

Body = tuple[str, bytes]  # (content type, body)
Route = Callable[[], Body]
LOOPBACK_NAMES = ("localhost",)
# The page inlines its script and style; it may only talk to the address that served it.
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")


def is_loopback(address: str) -> bool:
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def json_body(document: Mapping[str, Any]) -> Body:
    return "application/json", json.dumps(document, default=str).encode("utf-8")


@dataclass
class Served:
    """A running server: its address, and how to stop it (the thread that serves it)."""

    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.server.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _handler(routes: Mapping[str, Route],
             hosts: frozenset[str] | None) -> type[BaseHTTPRequestHandler]:
    """`hosts`: the Host headers accepted; None: any (a non-loopback address, served on
    purpose to other machines, has no one name)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "velollm-dashboard"

        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").lower()
            if hosts is not None and host not in hosts:
                self._send(421, "text/plain; charset=utf-8",
                           b"velollm dashboard: unexpected Host header\n")
                return
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")
                return
            try:
                kind, body = route()
            except Exception as exc:  # noqa: BLE001 (a bug in one panel must not stop the rest)
                self._send(500, "text/plain; charset=utf-8",
                           f"{type(exc).__name__}: {exc}\n".encode())
                return
            self._send(200, kind, body)

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            for name, value in (("Content-Type", kind), ("Content-Length", str(len(body))),
                                ("Cache-Control", "no-store"),
                                ("X-Content-Type-Options", "nosniff"),
                                ("Referrer-Policy", "no-referrer"),
                                ("Content-Security-Policy", CSP)):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the terminal shows the URL and errors, not every poll."""

    return Handler


def serve(routes: Mapping[str, Route], listen: str, port: int) -> Served:
    """Start serving in a background thread; port 0 takes a free one."""
    address = listen.strip("[]")

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        daemon_threads = True

    try:
        server = Server((address, port), _handler(routes, frozenset()))
    except OSError as exc:
        raise UsageError(f"cannot listen on {listen}:{port}: {exc.strerror or exc}",
                         hint="choose another --port (0 takes a free one)") from None
    bound = int(server.server_address[1])
    names = {address, *LOOPBACK_NAMES, "127.0.0.1", "::1"}
    hosts = frozenset(f"{f'[{n}]' if ':' in n else n}:{bound}" for n in names)
    server.RequestHandlerClass = _handler(routes, hosts if is_loopback(address) else None)
    thread = threading.Thread(target=server.serve_forever, name="velollm-dashboard",
                              daemon=True)
    thread.start()
    return Served(server, thread)
