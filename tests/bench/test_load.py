"""The asynchronous load generator through the CLI against a server that streams at a known rate
(tests/fakestream.py, its own process on a free loopback port, stopped by its PID), and its
transport's guarantees against servers that misbehave. No timing is asserted beyond the shape
of the figures."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.cliutil import cli
from tests.io.test_http import head, serving
from velollm.errors import ServerResponseError, ServerTimeoutError
from velollm.io.ahttp import AsyncHttp
from velollm.io.http import Limits

FAKE = Path(__file__).resolve().parents[1] / "fakestream.py"


@pytest.fixture(scope="module")
def fake() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(FAKE), str(port), "400"])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        yield base
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.mark.parametrize("backend", ["ollama", "llamacpp"])
def test_fixed_concurrency_reports_percentiles_and_goodput(
        fake: str, backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--json", "benchmark", "--backend", backend, "--host", fake,
                         "--model", "fake", "--load", "concurrency:4", "--num-predict", "8",
                         "--ttft-limit-ms", "60000")
    assert code == 0, err
    (run,) = json.loads(out)["runs"]
    assert (run["label"], run["requests"], run["failed"]) == ("concurrency 4", 16, 0)
    assert run["throughput_tps"] > 0
    assert run["ttft_ms"]["p50"] <= run["ttft_ms"]["p90"] <= run["ttft_ms"]["p99"]
    assert run["itl_ms"]["p50"] is not None
    assert run["goodput_rps"] > 0
    assert 0 <= run["client"]["cpu_share"] <= 1.5


def test_a_sweep_stops_at_its_maximum_or_the_knee(fake: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--json", "benchmark", "--host", fake, "--model", "fake",
                         "--load", "sweep:4", "--num-predict", "4", "--requests", "4")
    assert code == 0, err
    labels = [r["label"] for r in json.loads(out)["runs"]]
    assert labels[0] == "concurrency 1" and len(labels) <= 3
    assert all(label.startswith("concurrency ") for label in labels)


def test_a_rate_sends_poisson_arrivals(fake: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "benchmark", "--host", fake, "--model", "fake", "--load",
                         "rate:50", "--requests", "6", "--num-predict", "4")
    assert code == 0, err
    assert "rate 50/s" in out and "6/6" in out


@pytest.mark.parametrize("shape", ["bursty:3", "concurrency", "concurrency:0", "rate:x",
                                   "concurrency:2.5"])
def test_a_bad_shape_is_a_usage_error(shape: str, capsys: pytest.CaptureFixture[str],
                                      fake: str) -> None:
    code, _out, err = cli(capsys, "benchmark", "--host", fake, "--model", "fake", "--load",
                          shape)
    assert code == 2 and "--load" in err and "Traceback" not in err


async def _read(url: str, **limits: float) -> list[bytes]:
    async with AsyncHttp(url, "TestServer", Limits(**limits)) as http:  # type: ignore[arg-type]
        return [line async for _at, line in http.lines("POST", "/s", {"a": 1})]


def test_async_transport_follows_no_redirect() -> None:
    with serving(lambda c: c.sendall(head("Location: http://127.0.0.1:9/x\r\n"
                                          "Content-Length: 0\r\n", "302 Found"))) as url, \
            pytest.raises(ServerResponseError, match="follows no redirect"):
        asyncio.run(_read(url))


def test_async_transport_holds_the_overall_deadline_against_a_trickle() -> None:
    def talk(conn: socket.socket) -> None:
        conn.sendall(head("Transfer-Encoding: chunked\r\n"))
        for _ in range(600):
            conn.sendall(b"2\r\na\n\r\n")
            time.sleep(0.05)

    with serving(talk) as url:
        started = time.monotonic()
        with pytest.raises(ServerTimeoutError):
            asyncio.run(_read(url, deadline_s=0.5))
        assert time.monotonic() - started < 15  # the trickle alone lasts 30 s


def test_async_transport_caps_a_line_and_refuses_compression() -> None:
    def endless(conn: socket.socket) -> None:
        conn.sendall(head("Transfer-Encoding: chunked\r\n"))
        block = b"y" * 4096
        for _ in range(64):
            conn.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")

    with serving(endless) as url, pytest.raises(ServerResponseError, match="longer than"):
        asyncio.run(_read(url, max_line=16 * 1024))
    with serving(lambda c: c.sendall(head("Content-Encoding: gzip\r\nContent-Length: 4\r\n")
                                     + b"abcd")) as url, \
            pytest.raises(ServerResponseError, match="compressed"):
        asyncio.run(_read(url))
