"""A fake Ollama on a raw loopback socket that answers like Ollama 0.5.4, except on the one
endpoint a test tells it to misbehave on (trickle, stall, endless bodies, gzip bombs, garbage,
redirects, wrong JSON shapes, absurd figures).

Raw sockets rather than a web framework: a framework would fix up what a hostile server sends
(Content-Length, chunking, status lines). Every connection runs in its own thread and ends when the
client hangs up or after `HOLD_S`, so nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

HOLD_S = 8.0  # the longest any misbehaviour holds a connection
Talk = Callable[[socket.socket, "Request"], None]

VERSION = {"version": "0.5.4"}
TAGS = {"models": [{"name": "tiny:latest", "size": 545000, "digest": "ab",
                    "modified_at": "2026-01-01T00:00:00Z",
                    "details": {"family": "llama", "parameter_size": "3.6M",
                                "quantization_level": "F16"}}]}
SHOW = {"parameters": "num_ctx 2048", "template": "{{ .Prompt }}",
        "details": {"family": "llama", "parameter_size": "3.6M", "quantization_level": "F16"},
        "model_info": {"general.architecture": "llama", "general.parameter_count": 3600000,
                       "llama.block_count": 4, "llama.embedding_length": 256,
                       "llama.attention.head_count": 4, "llama.attention.head_count_kv": 4,
                       "llama.context_length": 2048, "llama.vocab_size": 32000},
        "capabilities": ["completion"]}
PS = {"models": [{"name": "tiny:latest", "size": 23661056, "size_vram": 0,
                  "expires_at": "2026-01-01T00:05:00Z"}]}
# Durations that fit the few milliseconds a loopback request takes.
DONE = {"done": True, "done_reason": "length", "total_duration": 3000000,
        "load_duration": 100000, "prompt_eval_count": 9, "prompt_eval_duration": 1000000,
        "eval_count": 4, "eval_duration": 1000000}
TOKENS = [{"response": "x", "done": False}] * 3


def generate_lines(done: dict[str, Any] | None = None) -> bytes:
    return b"".join(json.dumps(x).encode() + b"\n" for x in [*TOKENS, done or DONE])


NORMAL: dict[str, bytes] = {
    "/api/version": json.dumps(VERSION).encode(),
    "/api/tags": json.dumps(TAGS).encode(),
    "/api/show": json.dumps(SHOW).encode(),
    "/api/ps": json.dumps(PS).encode(),
    "/api/generate": generate_lines(),
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes


def head(status: str = "200 OK", extra: str = "", content_type: str = "application/json"
         ) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
            f"{extra}\r\n").encode()


def whole(body: bytes, status: str = "200 OK") -> Talk:
    """A complete answer with this body."""
    return lambda conn, _r: conn.sendall(head(status, f"Content-Length: {len(body)}\r\n") + body)


def json_answer(value: object, status: str = "200 OK") -> Talk:
    return whole(json.dumps(value).encode(), status)


def holding(conn: socket.socket, stop: threading.Event, step: Callable[[], bytes],
            every_s: float) -> None:
    """Send step() every `every_s` until the client hangs up, the test ends or HOLD_S passes."""
    until = time.monotonic() + HOLD_S
    while time.monotonic() < until and not stop.is_set():
        conn.sendall(step())
        if every_s:
            stop.wait(every_s)


@dataclass
class FakeOllama:
    """Answers every endpoint as NORMAL, except those in `talk`."""

    talk: dict[str, Talk] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def answer(self, conn: socket.socket, request: Request) -> None:
        self.requests.append(request)
        special = self.talk.get(request.path)
        if special is not None:
            special(conn, request)
        elif request.path in NORMAL:
            whole(NORMAL[request.path])(conn, request)
        else:
            json_answer({"error": "404 page not found"}, "404 Not Found")(conn, request)


@contextlib.contextmanager
def serving(fake: FakeOllama) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.02)  # how soon the acceptor sees the test end
    threads: list[threading.Thread] = []

    def accept() -> None:
        while not fake.stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            thread = threading.Thread(target=_serve_one, args=(fake, conn), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        fake.stop.set()
        acceptor.join(timeout=5)
        listener.close()
        for thread in threads:
            thread.join(timeout=HOLD_S + 2)


def _serve_one(fake: FakeOllama, conn: socket.socket) -> None:
    with conn, contextlib.suppress(OSError):  # the client hung up first: what deadlines do
        conn.settimeout(HOLD_S)
        request = _read_request(conn)
        if request is not None:
            fake.answer(conn, request)
            conn.shutdown(socket.SHUT_WR)
            fake.stop.wait(0.05)


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return None
        data += piece
    header, _, body = data.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                   if line.lower().startswith("content-length:")), 0)
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return Request(method, path, body)


# -- misbehaviours: each is a Talk that a test puts on one endpoint -------------------------------
def trickle(stop: threading.Event) -> Talk:
    """Announces 1000 bytes, sends one a second: every read is in time, the whole never is."""
    def talk(conn: socket.socket, _r: Request) -> None:
        conn.sendall(head(extra="Content-Length: 1000\r\n") + b"{")
        holding(conn, stop, lambda: b" ", 1.0)
    return talk


def trickle_headers(stop: threading.Event) -> Talk:
    """The status line, then a header a byte at a time: http.client's reads each end in time."""
    def talk(conn: socket.socket, _r: Request) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        holding(conn, stop, lambda: b"a", 0.2)
    return talk


def trickle_chunk(stop: threading.Event) -> Talk:
    """A chunked body announcing a chunk of 100000 bytes, sent a byte at a time."""
    def talk(conn: socket.socket, _r: Request) -> None:
        conn.sendall(head(extra="Transfer-Encoding: chunked\r\n") + b"186a0\r\n{")
        holding(conn, stop, lambda: b" ", 0.2)
    return talk


def stall_after_headers(stop: threading.Event) -> Talk:
    def talk(conn: socket.socket, _r: Request) -> None:
        conn.sendall(head(extra="Content-Length: 100\r\n"))
        stop.wait(HOLD_S)
    return talk


def stall_before_headers(stop: threading.Event) -> Talk:
    return lambda _conn, _r: stop.wait(HOLD_S) and None


def endless_line(stop: threading.Event) -> Talk:
    """A chunked body with no newline, ever."""
    block = b"y" * 65536

    def talk(conn: socket.socket, _r: Request) -> None:
        conn.sendall(head(extra="Transfer-Encoding: chunked\r\n"))
        holding(conn, stop, lambda: f"{len(block):x}\r\n".encode() + block + b"\r\n", 0)
    return talk


def endless_stream(stop: threading.Event) -> Talk:
    """Valid chunks, never the last one."""
    line = json.dumps({"response": "x", "done": False}).encode() + b"\n"

    def talk(conn: socket.socket, _r: Request) -> None:
        conn.sendall(head(extra="Transfer-Encoding: chunked\r\n"))
        holding(conn, stop, lambda: f"{len(line) * 64:x}\r\n".encode() + line * 64 + b"\r\n",
                0.001)
    return talk


def slow_stream(stop: threading.Event) -> Talk:
    """One valid chunk every 0.3 s, never the last one: each read in time, the whole never."""
    line = json.dumps({"response": "x", "done": False}).encode() + b"\n"

    def talk(conn: socket.socket, _r: Request) -> None:
        conn.sendall(head(extra="Transfer-Encoding: chunked\r\n"))
        holding(conn, stop, lambda: f"{len(line):x}\r\n".encode() + line + b"\r\n", 0.3)
    return talk


def huge_length(_stop: threading.Event) -> Talk:
    return lambda conn, _r: conn.sendall(head(extra="Content-Length: 2147483648\r\n") + b"{" * 64)


@functools.cache
def _bomb() -> bytes:
    """64 MiB of zeros in ~64 KiB: 64 gzip members of 1 MiB (built in milliseconds)."""
    return gzip.compress(b"\0" * (1024 * 1024)) * 64


def gzip_bomb(_stop: threading.Event) -> Talk:
    bomb = _bomb()
    return lambda conn, _r: conn.sendall(
        head(extra=f"Content-Encoding: gzip\r\nContent-Length: {len(bomb)}\r\n") + bomb)


def lying_gzip(_stop: threading.Event) -> Talk:
    """Says gzip, sends something that is not."""
    return whole_with(b"\x1f\x8bnot gzip at all", "Content-Encoding: gzip\r\n")


def whole_with(body: bytes, extra: str) -> Talk:
    return lambda conn, _r: conn.sendall(
        head(extra=f"{extra}Content-Length: {len(body)}\r\n") + body)


def short_body(_stop: threading.Event) -> Talk:
    """Announces 500 bytes, sends 10, hangs up."""
    return lambda conn, _r: conn.sendall(head(extra="Content-Length: 500\r\n") + b'{"version"')


def not_http(_stop: threading.Event) -> Talk:
    return lambda conn, _r: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff garbage\r\n\r\n")


def hang_up(_stop: threading.Event) -> Talk:
    return lambda _conn, _r: None


def binary_garbage(_stop: threading.Event) -> Talk:
    return whole(bytes(range(256)) * 4)


def html_page(_stop: threading.Event) -> Talk:
    body = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
    return whole_with(body, "")


def deep_json(_stop: threading.Event) -> Talk:
    return whole(b"[" * 200000 + b"]" * 200000)


def server_error(_stop: threading.Event) -> Talk:
    return json_answer({"error": "something broke"}, "500 Internal Server Error")


def redirect_to(where: str) -> Talk:
    return lambda conn, r: conn.sendall(
        head("302 Found", f"Location: {where}{r.path}\r\nContent-Length: 0\r\n"))


RAW: dict[str, Callable[[threading.Event], Talk]] = {
    "trickle": trickle,
    "trickle_headers": trickle_headers,
    "trickle_chunk": trickle_chunk,
    "stall_after_headers": stall_after_headers,
    "stall_before_headers": stall_before_headers,
    "endless_line": endless_line,
    "endless_stream": endless_stream,
    "slow_stream": slow_stream,
    "huge_content_length": huge_length,
    "gzip_bomb": gzip_bomb,
    "lying_gzip": lying_gzip,
    "short_body": short_body,
    "not_http": not_http,
    "hang_up": hang_up,
    "binary_garbage": binary_garbage,
    "html_page": html_page,
    "deep_json": deep_json,
    "http_500": server_error,
}
# Misbehaviours that end only at a deadline (the others end on their own, quickly).
TIMED = {"trickle", "trickle_headers", "trickle_chunk", "stall_after_headers",
         "stall_before_headers", "slow_stream"}
