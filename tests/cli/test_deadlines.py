"""--timeout (each request) and --deadline (the whole command) of benchmark, verify, plan and
status: shown with their defaults in --help, checked as usage, and enforced on a server that is
slow rather than broken: the benchmark ends at its deadline with what it measured."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import jsonschema
import pytest

from tests.cli import hostile_servers as hostile
from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.resources import load_schema

SERVER_COMMANDS = ("benchmark", "verify", "plan", "status")
LONG = "300 for a generation, 30 for any other answer"
DEFAULTS = {"benchmark": (LONG, "3600"), "verify": (LONG, "3600"), "plan": ("10", "60"),
            "status": ("10", "30")}


@pytest.mark.parametrize("command", SERVER_COMMANDS)
def test_help_shows_both_deadlines_with_their_defaults(command: str,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    code, out, _ = cli(capsys, command, "--help")
    text = " ".join(out.split())
    request_s, run_s = DEFAULTS[command]
    assert code == 0
    assert f"--timeout SECONDS the most one request to the server may take, every byte of its " \
           f"answer included (default: {request_s})" in text
    assert "--deadline SECONDS the most the whole command may take talking to the server" in text
    assert f"(default: {run_s})" in text


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "1e12", ""])
@pytest.mark.parametrize("option", ["--timeout", "--deadline"])
@pytest.mark.parametrize("command", SERVER_COMMANDS)
def test_unusable_seconds_are_a_usage_error(command: str, option: str, value: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, command, option, value)
    assert code == 2
    assert f"argument {option}:" in err and "seconds" in err
    assert out == "" and "Traceback" not in err


def _slow_generate(stop: threading.Event, wait_s: float = 0.4) -> hostile.Talk:
    """A well-formed answer that takes `wait_s`: a slow server, not a broken one."""
    def talk(conn: socket.socket, _r: hostile.Request) -> None:
        stop.wait(wait_s)
        hostile.whole(hostile.generate_lines({**hostile.DONE, "total_duration": 350_000_000,
                                              "eval_duration": 300_000_000}))(conn, _r)
    return talk


def test_a_slow_server_ends_the_benchmark_at_its_deadline_with_what_was_measured(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = hostile.FakeOllama()
    fake.talk["/api/generate"] = _slow_generate(fake.stop)
    out = tmp_path / "b.json"
    with hostile.serving(fake) as url:
        started = time.monotonic()
        # the standard suite is 30 requests: 12 s at this pace
        code, stdout, err = cli(capsys, "benchmark", "--host", url, "--model", "tiny",
                                "--deadline", "2", "--out", str(out))
        took = time.monotonic() - started
    assert code == 1
    assert took < 4.5
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    said = f"Ollama at {url} was still answering POST /api/generate when the run's deadline of " \
           "2 s passed"
    assert errors == [f"error: benchmark stopped: {said}"]
    assert "allow the whole run more time with --deadline SECONDS" in err
    doc = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(load_schema("benchmark.schema.json")).validate(doc)
    assert doc["partial"] is True and doc["stopped"] == said
    measured = [s for b in doc["benchmarks"] for s in b["samples"] if s["ok"]]
    assert 2 <= len(measured) <= 5  # what fitted in 2 s, each a real figure
    assert all(s["decode_tps"] == pytest.approx(4 / 0.3) for s in measured)
    assert "short_completion" in stdout  # the table of what was measured


def test_one_slow_request_ends_at_the_request_timeout(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    fake = hostile.FakeOllama()
    fake.talk["/api/generate"] = _slow_generate(fake.stop, 3.0)
    with hostile.serving(fake) as url:
        code, _, err = cli(capsys, "benchmark", "--host", url, "--model", "tiny",
                           "--timeout", "1")
    assert code == 1
    assert f"error: benchmark stopped: Ollama at {url} did not finish POST /api/generate " \
           "within 1 s" in err
    assert "allow more time with --timeout SECONDS" in err


@pytest.fixture
def applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\nprofile: balanced\nverify: {iterations: 3}\n",
        encoding="utf-8")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(ollama_version="0.5.4"))
    code, _, err = cli(capsys, "apply", "--hardware", "hw.json", "--target", "shell", "--path",
                       str(tmp_path / "ollama.env.sh"), "--auto-approve")
    assert code == 0, err
    with hostile.serving(hostile.FakeOllama()) as url:
        code, _, err = cli(capsys, "benchmark", "--host", url, "--model", "tiny", "--suite",
                           "short_completion", "--iterations", "3", "--out", "base.json")
    assert code == 0, err
    return tmp_path


def test_verify_with_one_busy_answer_does_not_claim_a_verdict(
        applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """HTTP 503 on one request is a failed sample for `benchmark`; for verify it means the
    comparison would rest on fewer runs than it says: exit 1, never 0."""
    fake = hostile.FakeOllama()
    calls: list[int] = []

    def generate(conn: socket.socket, r: hostile.Request) -> None:
        calls.append(1)
        if len(calls) == 3:
            hostile.json_answer({"error": "server busy"}, "503 Service Unavailable")(conn, r)
        else:
            hostile.whole(hostile.NORMAL["/api/generate"])(conn, r)

    fake.talk["/api/generate"] = generate
    with hostile.serving(fake) as url:
        code, out, err = cli(capsys, "verify", "--host", url, "--baseline", "base.json")
        control, _, _ = cli(capsys, "verify", "--host", url, "--baseline", "base.json")
    assert code == 1, out + err
    said = (f"error: verify could not benchmark the server: 1 of 4 requests to the server at "
            f"{url} failed (the first: Ollama at {url} answered POST /api/generate with HTTP "
            "503: server busy)")
    assert [line for line in err.splitlines() if line.startswith("error:")] == [said]
    assert "--skip-benchmark checks only the settings" in err
    assert control == 0  # the same server, answering every request


def test_verify_stops_at_its_deadline(applied: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = hostile.FakeOllama()
    fake.talk["/api/generate"] = _slow_generate(fake.stop)
    with hostile.serving(fake) as url:
        started = time.monotonic()
        code, _, err = cli(capsys, "verify", "--host", url, "--baseline", "base.json",
                           "--deadline", "1")
        took = time.monotonic() - started
    assert code == 1 and took < 3.5
    assert f"error: verify could not benchmark the server: Ollama at {url} was still answering " \
           "POST /api/generate when the run's deadline of 1 s passed" in err


def test_json_of_a_stopped_benchmark_is_one_document_and_the_error_on_stderr(
        capsys: pytest.CaptureFixture[str]) -> None:
    fake = hostile.FakeOllama()
    fake.talk["/api/generate"] = lambda conn, r: hostile.whole(b"not json\n")(conn, r)
    with hostile.serving(fake) as url:
        code, out, err = cli(capsys, "benchmark", "--host", url, "--model", "tiny", "--json")
    doc = json.loads(out)
    jsonschema.Draft202012Validator(load_schema("benchmark.schema.json")).validate(doc)
    assert code == 1 and doc["partial"] is True
    assert doc["stopped"] == f"Ollama at {url} sent a stream line that is not JSON: b'not json'"
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: benchmark stopped: {doc['stopped']}"]


def test_apply_baseline_against_a_faulty_server_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text("version: 1\nbackend: ollama\nprofile: balanced\n",
                                           encoding="utf-8")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(ollama_version="0.5.4"))
    fake = hostile.FakeOllama()
    fake.talk["/api/generate"] = hostile.whole(hostile.generate_lines(
        {**hostile.DONE, "eval_count": -1}))
    target = tmp_path / "ollama.env.sh"
    with hostile.serving(fake) as url:
        code, _, err = cli(capsys, "apply", "--hardware", "hw.json", "--target", "shell",
                           "--path", str(target), "--host", url, "--baseline", "--auto-approve")
    assert code == 1, err
    assert f"Ollama at {url} sent final statistics of the wrong shape: eval_count is -1" in err
    assert "Traceback" not in err and not target.exists()
