"""io/webserver.py over real loopback sockets: routes, the Host check, the headers."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from velollm.io.webserver import Served, is_loopback, json_body, serve


@pytest.fixture
def served() -> Iterator[Served]:
    def broken() -> tuple[str, bytes]:
        raise RuntimeError("panel bug")

    handle = serve({"/": lambda: ("text/html; charset=utf-8", b"<p>hi</p>"),
                    "/api/x": lambda: json_body({"a": 1}), "/api/broken": broken},
                   "127.0.0.1", 0)
    yield handle
    handle.stop()


def _get(served: Served, path: str, host: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host or f"127.0.0.1:{served.port}")
    conn.endheaders()
    return conn.getresponse()


def test_routes_and_headers(served: Served) -> None:
    page = _get(served, "/")
    assert (page.status, page.read()) == (200, b"<p>hi</p>")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    api = _get(served, "/api/x?t=1")
    assert api.headers["Content-Type"] == "application/json"
    assert json.loads(api.read()) == {"a": 1}
    assert _get(served, "/nope").status == 404
    broken = _get(served, "/api/broken")
    assert (broken.status, broken.read()) == (500, b"RuntimeError: panel bug\n")
    assert served.url == f"http://127.0.0.1:{served.port}/"


def test_only_loopback_host_names_are_answered(served: Served) -> None:
    # DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1
    assert _get(served, "/", f"evil.example:{served.port}").status == 421
    assert _get(served, "/", f"localhost:{served.port}").status == 200
    assert _get(served, "/", "127.0.0.1:1").status == 421  # another port: another origin


def test_loopback_addresses() -> None:
    assert all(map(is_loopback, ("127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "192.168.1.2", "example.com")))


def test_a_taken_port_is_a_clear_error(served: Served) -> None:
    from velollm.errors import UsageError

    with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{served.port}"):
        serve({}, "127.0.0.1", served.port)
