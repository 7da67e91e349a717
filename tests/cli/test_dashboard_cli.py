"""`velollm dashboard`: served on loopback, the page and its JSON endpoints fetched over real
sockets, stopped by its handle (in-process) or by ^C (a subprocess, stopped by its PID)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.cli.cliutil import cli
from tests.cli.test_report_cli import check_javascript, inline_scripts, parse
from velollm.cli import dashboard
from velollm.main import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _ollama(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.4"})
    httpserver.expect_request("/api/ps").respond_with_json({"models": []})
    return httpserver.url_for("/").rstrip("/")


def _args(*argv: str) -> Any:
    return build_parser().parse_args(["dashboard", *argv])


def _fetch(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.headers["Content-Type"], response.read()


def test_page_and_endpoints_over_loopback(httpserver: HTTPServer, tmp_path: Path) -> None:
    served = dashboard.start(_args("--port", "0", "--host", _ollama(httpserver)))
    try:
        assert served.url.startswith("http://127.0.0.1:")
        kind, page = _fetch(served.url)
        assert kind == "text/html; charset=utf-8"
        tree = parse(page.decode("utf-8"))
        assert {s.get("id") for s in tree.iter("canvas")} >= {  # type: ignore[attr-defined]
            "time-decode_tps", "apply-decode_tps"}
        scripts = inline_scripts(tree)
        now = json.loads(_fetch(served.url + "api/now")[1])
        assert now["servers"][0]["up"] is True and now["servers"][0]["version"] == "0.5.4"
        config = json.loads(_fetch(served.url + "api/configuration")[1])
        assert config["status"]["applied"] is False
        gains = json.loads(_fetch(served.url + "api/gains")[1])
        assert gains["count"] == 0
        kind, metrics = _fetch(served.url + "metrics")
        assert kind.startswith("text/plain; version=0.0.4")
        assert b"velollm_server_up{" in metrics
    finally:
        served.stop()
    check_javascript(scripts, tmp_path)  # last: it skips where node is not installed


def test_run_serves_until_stopped(httpserver: HTTPServer,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(dashboard.run(
        _args("--port", "0", "--host", _ollama(httpserver)), stop)))
    thread.start()
    try:
        for _ in range(200):
            out = capsys.readouterr().out
            if "velollm dashboard: http://127.0.0.1:" in out:
                break
            threading.Event().wait(0.05)
        url = out.split("velollm dashboard: ", 1)[1].split()[0]
        assert _fetch(url + "api/now")[0] == "application/json"
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result == [0]


def test_non_loopback_needs_an_explicit_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "dashboard", "--listen", "0.0.0.0")
    assert code == 2
    assert "--listen 0.0.0.0 can be reached from other machines" in err
    assert "--allow-remote" in err


def test_allow_remote_warns(monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    class Never:  # what start() returns, without binding 0.0.0.0 in a test
        url = "http://0.0.0.0:1/"

        def stop(self) -> None:
            pass

    monkeypatch.setattr(dashboard, "start", lambda _args: Never())
    stopped = threading.Event()
    stopped.set()
    assert dashboard.run(_args("--listen", "0.0.0.0", "--allow-remote"), stopped) == 0
    err = capsys.readouterr().err
    assert "beyond this machine: it has no authentication" in err


def test_bad_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "dashboard", "--port", "70000")[0] == 2
    assert cli(capsys, "dashboard", "--refresh", "0.1")[0] == 2
    code, _, err = cli(capsys, "dashboard", "--host", "http://127.0.0.1:99999")
    assert code == 2 and "Traceback" not in err


def test_subprocess_stops_on_interrupt(httpserver: HTTPServer) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "velollm", "dashboard", "--port", "0",
                             "--host", _ollama(httpserver)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split("velollm dashboard: ", 1)[1].split()[0]
        assert _fetch(url)[1].startswith(b"<!DOCTYPE html>")
        proc.send_signal(signal.SIGINT)  # ^C, to the PID we started
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped" in err
