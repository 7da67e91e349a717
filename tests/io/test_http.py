"""velollm/io/http.py against servers that misbehave on a real loopback socket: each ends in time
with one clear VelollmError, never a hang, a traceback or a followed redirect."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from velollm.errors import ServerResponseError, ServerTimeoutError, ServerUnreachableError
from velollm.io.http import Http, Limits


@contextmanager
def serving(talk: Callable[[socket.socket], None], accept_s: float = 10) -> Iterator[str]:
    """A one-connection server on loopback that runs `talk` on the accepted socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(accept_s)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            with contextlib.suppress(OSError):  # the client hung up first: what deadlines do
                talk(conn)
            stop.wait(0.5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=10)


def head(extra: str = "", status: str = "200 OK") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}\r\n".encode()


def client(url: str, **limits: float) -> Http:
    return Http(url, "TestServer", Limits(**limits), retries=0)  # type: ignore[arg-type]


def test_a_trickling_body_ends_at_the_overall_deadline() -> None:
    def talk(conn: socket.socket) -> None:
        conn.sendall(head("Content-Length: 1000\r\n"))
        for _ in range(600):
            conn.sendall(b" ")
            time.sleep(0.05)  # every read returns in time: only the overall deadline stops it

    with serving(talk) as url:
        started = time.monotonic()
        with pytest.raises(ServerTimeoutError, match=r"did not finish GET /x within 0\.5 s"):
            client(url, deadline_s=0.5).json("GET", "/x")
        # without the deadline the trickle lasts 30 s; the margin absorbs a loaded machine
        assert time.monotonic() - started < 15.0


def test_a_stall_after_the_headers_ends_at_the_deadline() -> None:
    def talk(conn: socket.socket) -> None:
        conn.sendall(head("Content-Length: 10\r\n"))
        time.sleep(1.5)

    with serving(talk) as url, pytest.raises(ServerTimeoutError):
        client(url, deadline_s=0.4).json("GET", "/x")


def test_an_announced_huge_body_is_refused_before_reading() -> None:
    with serving(lambda c: c.sendall(head("Content-Length: 2147483648\r\n"))) as url, \
            pytest.raises(ServerResponseError, match="a Content-Length of 2147483648 bytes"):
        client(url).json("GET", "/x")


def test_an_endless_body_stops_at_the_size_cap() -> None:
    def talk(conn: socket.socket) -> None:
        conn.sendall(head("Transfer-Encoding: chunked\r\n"))
        block = b"x" * 65536
        for _ in range(64):
            conn.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")

    with serving(talk) as url, pytest.raises(ServerResponseError, match="more than 1024 KiB"):
        client(url, max_body=1024 * 1024).json("GET", "/x")


def test_an_endless_line_stops_at_the_line_cap() -> None:
    def talk(conn: socket.socket) -> None:
        conn.sendall(head("Transfer-Encoding: chunked\r\n"))
        block = b"y" * 4096
        for _ in range(64):
            conn.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")

    with serving(talk) as url, pytest.raises(ServerResponseError, match="line"):
        list(client(url, max_line=16 * 1024).lines("POST", "/stream"))


def test_a_gzip_bomb_is_not_inflated_past_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KiB

    def talk(conn: socket.socket) -> None:
        conn.sendall(head(f"Content-Encoding: gzip\r\nContent-Length: {len(bomb)}\r\n") + bomb)

    with serving(talk) as url, pytest.raises(ServerResponseError, match="more than"):
        client(url, max_body=1024 * 1024).json("GET", "/x")


def test_a_redirect_is_never_followed() -> None:
    followed = threading.Event()

    def other(conn: socket.socket) -> None:
        followed.set()
        conn.sendall(head("Content-Length: 2\r\n") + b"{}")

    with serving(other, accept_s=1) as elsewhere:
        def talk(conn: socket.socket) -> None:
            conn.sendall(head(f"Location: {elsewhere}/stolen\r\nContent-Length: 0\r\n",
                              status="302 Found"))

        with serving(talk) as url, pytest.raises(ServerResponseError,
                                                 match="follows no redirect") as info:
            client(url).json("POST", "/api/generate", {"prompt": "secret"})
    assert "/stolen" in info.value.message
    assert not followed.is_set()


def test_garbage_is_a_clear_error_not_a_traceback() -> None:
    with serving(lambda c: c.sendall(head("Content-Length: 9\r\n") + b"\x00\xffgarbage")) as url, \
            pytest.raises(ServerResponseError, match="not JSON"):
        client(url).json("GET", "/x")


def test_not_http_at_all_is_a_clear_error() -> None:
    with serving(lambda c: c.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")) as url, \
            pytest.raises((ServerResponseError, ServerUnreachableError)):
        client(url, deadline_s=2).json("GET", "/x")


def test_an_error_status_carries_the_servers_message() -> None:
    body = b'{"error":{"message":"Loading model","code":503}}'
    with serving(lambda c: c.sendall(head(f"Content-Length: {len(body)}\r\n",
                                          "503 Service Unavailable") + body)) as url, \
            pytest.raises(ServerResponseError, match="HTTP 503: Loading model") as info:
        client(url).json("GET", "/health")
    assert info.value.status == 503


def test_status_reports_an_error_status_without_raising() -> None:
    body = b'{"error":{"message":"Loading model"}}'
    with serving(lambda c: c.sendall(head(f"Content-Length: {len(body)}\r\n",
                                          "503 Service Unavailable") + body)) as url:
        status, data = client(url).status("GET", "/health")
    assert status == 503 and data == {"error": {"message": "Loading model"}}


def test_a_closed_port_is_unreachable() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ServerUnreachableError, match="not reachable"):
        client(f"http://127.0.0.1:{port}").json("GET", "/x")


def test_stream_lines_arrive_before_the_body_ends() -> None:
    seen = threading.Event()

    def talk(conn: socket.socket) -> None:
        conn.sendall(head("Transfer-Encoding: chunked\r\n") + b"6\r\n{\"a\":1\r\n" + b"2\r\n}\n\r\n")
        seen.wait(5)  # the client must see the first line while the stream is still open
        conn.sendall(b"0\r\n\r\n")

    with serving(talk) as url:
        lines = client(url).lines("POST", "/s")
        assert next(lines) == b'{"a":1}'
        seen.set()
        assert list(lines) == []


def test_headers_that_trickle_end_at_the_overall_deadline() -> None:
    """A read timeout alone never fires on a server that sends its headers a byte at a time."""
    def talk(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(100):
            conn.sendall(b"a")
            time.sleep(0.1)

    with serving(talk) as url:
        started = time.monotonic()
        with pytest.raises(ServerTimeoutError, match=r"did not finish GET /x within 0\.5 s"):
            client(url, deadline_s=0.5).json("GET", "/x")
        assert time.monotonic() - started < 3.0  # the trickle lasts 10 s
