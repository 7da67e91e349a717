"""The benchmark's progress bar in `verify` and `apply --baseline` (stderr, on a terminal only),
and ^C during a benchmark: what was measured is kept, shown and written (`"partial": true`),
exit 130. The server is scripted (pytest-httpserver); ^C is raised by the Nth request."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.backends.ollama.targets import render_target
from velollm.bench import runner
from velollm.io.fileops import apply_files
from velollm.resources import load_schema

DONE = {"done": True, "done_reason": "length", "total_duration": 900000, "load_duration": 1000,
        "prompt_eval_count": 9, "prompt_eval_duration": 1000000, "eval_count": 4,
        "eval_duration": 2000000}
CONFIG = ("version: 1\nbackend: ollama\nprofile: balanced\ntarget: {kind: shell}\n"
          "server:\n  keep_alive: 30m\nverify:\n  model: m\n  iterations: 1\n")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _stream(_request: Request) -> Response:
    return Response("".join(json.dumps(x) + "\n" for x in
                            [{"response": "x", "done": False}] * 4 + [DONE]))


@pytest.fixture
def url(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.4"})
    httpserver.expect_request("/api/tags").respond_with_json(
        {"models": [{"name": "m:latest", "size": 1, "digest": "d"}]})
    httpserver.expect_request("/api/show").respond_with_json({"parameters": ""})
    httpserver.expect_request("/api/ps").respond_with_json({"models": []})
    httpserver.expect_request("/api/generate").respond_with_handler(_stream)
    return httpserver.url_for("/").rstrip("/")


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """^C while the n-th request (1-based) would run."""
    real = runner.run_request
    calls = []

    def run_request(*args: Any, **kwargs: Any) -> runner.Sample:
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_request", run_request)


def _terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    return err


def test_interrupted_benchmark_keeps_what_was_measured(
        url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # standard suite, 2 runs + 1 warm-up each: short_completion (3 requests) finishes, the 5th
    # request (medium_completion's first measured run) is cut by ^C
    _interrupt_at(monkeypatch, 5)
    out = tmp_path / "b.json"
    code, stdout, err = cli(capsys, "benchmark", "--host", url, "--model", "m",
                            "--iterations", "2", "--out", str(out))
    assert code == 130
    doc = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(load_schema("benchmark.schema.json")).validate(doc)
    assert doc["partial"] is True
    assert [b["name"] for b in doc["benchmarks"]] == ["short_completion", "medium_completion"]
    assert [len(b["samples"]) for b in doc["benchmarks"]] == [3, 1]  # the warm-up only
    assert doc["hardware"] is None
    assert "short_completion" in stdout and "code_generation" not in stdout  # the table
    assert f"wrote {out} (partial)" in err
    assert "Interrupted (^C): 2 benchmark(s) measured" in err

    code, stdout, err = cli(capsys, "--json", "benchmark", "--host", url, "--model", "m",
                            "--iterations", "2")
    assert code == 0 and json.loads(stdout)["partial"] is False  # the fifth call is long gone


def test_verify_shows_progress_on_a_terminal_and_compares_what_was_measured_on_ctrl_c(
        url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    env = {"OLLAMA_KEEP_ALIVE": "30m"}
    apply_files(render_target("shell", env), settings={"env": env, "target": "shell"})
    code, _, _ = cli(capsys, "benchmark", "--host", url, "--model", "m", "--suite", "quick",
                     "--iterations", "1", "--out", "base.json")
    assert code == 0

    err = _terminal(monkeypatch)
    code, out, _ = cli(capsys, "verify", "--host", url, "--baseline", "base.json")
    assert code == 0, err.getvalue()
    assert "\r[####################] concurrent 2/2" in err.getvalue()  # the bar, then cleared
    assert err.getvalue().endswith("\r")
    assert "\r[" not in out

    _interrupt_at(monkeypatch, 3)  # short_completion's warm-up and run, then ^C
    code, out, _ = cli(capsys, "--json", "verify", "--host", url, "--baseline", "base.json")
    doc = json.loads(out)
    assert (code, doc["exit_code"], doc["status"]) == (130, 130, "interrupted")
    assert doc["benchmark"]["status"] == "interrupted"
    assert {c["benchmark"] for c in doc["benchmark"]["comparisons"]} == {"short_completion"}
    assert doc["settings"][0]["env"] == "OLLAMA_KEEP_ALIVE"  # still checked and reported
    assert "\r[" not in err.getvalue().split("benchmarking m against")[-1]  # --json: no bar


def test_verify_without_a_terminal_draws_no_bar(url: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    env = {"OLLAMA_KEEP_ALIVE": "30m"}
    apply_files(render_target("shell", env), settings={"env": env, "target": "shell"})
    cli(capsys, "benchmark", "--host", url, "--model", "m", "--suite", "short_completion",
        "--iterations", "1", "--out", "base.json")
    code, _, err = cli(capsys, "verify", "--host", url, "--baseline", "base.json")
    assert code == 0 and "\r" not in err


def test_apply_baseline_progress_and_ctrl_c(url: str, tmp_path: Path, isolated_home: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    argv = ("apply", "--hardware", "hw.json", "--host", url, "--baseline", "--auto-approve")
    env_file = isolated_home / ".config" / "velollm" / "ollama.env.sh"
    baseline = isolated_home / ".local" / "state" / "velollm" / "baseline.json"

    err = _terminal(monkeypatch)
    with monkeypatch.context() as ctrl_c:  # (never monkeypatch.undo(): it restores the real HOME)
        _interrupt_at(ctrl_c, 4)
        code, _, _ = cli(capsys, *argv)
    assert code == 130
    assert "the baseline was interrupted: none was recorded, and nothing was written" \
        in err.getvalue()
    assert "\r[" in err.getvalue()
    assert not env_file.exists() and not baseline.exists()

    err = _terminal(monkeypatch)
    code, _, _ = cli(capsys, *argv)
    assert code == 0, err.getvalue()
    assert "\r[####################] concurrent 6/6" in err.getvalue()  # quick: 5 runs + 1
    assert "baseline: benchmarking m (verify.model)\n" in err.getvalue()
    assert env_file.exists() and json.loads(baseline.read_text())["partial"] is False
