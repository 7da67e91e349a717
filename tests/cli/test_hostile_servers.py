"""Issue 15, servers that misbehave: `benchmark`, `verify`, `plan`, `status` and `detect` against
a fake Ollama (tests/cli/hostile.py) that misbehaves on one endpoint at a time.

The corpus is a table: (command, endpoint, misbehaviour). For every case the command ends within
its deadline with no traceback and no crash log, and no other host sees a request; benchmark,
verify and plan exit 1 with one `error:` line that names the server and what it did; status and
detect keep their contract (they report what they found, exit 0) and say it in their report.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli import hostile_servers as hostile
from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.io import hardware as hardware_io
from velollm.io.xdg import state_dir
from velollm.main import crash_log_dir

TIMEOUT = "1"  # --timeout: each request
DEADLINE = "4"  # --deadline: the whole command
# What "within the deadline" allows on a loaded CI machine: the deadline, plus the fake's
# answers and Python's start-up of the command, never the HOLD_S a misbehaviour lasts.
WITHIN_S = 6.5
BASE = ("version: 1\nbackend: ollama\nprofile: balanced\nmodels:\n  - name: tiny\n"
        "verify: {iterations: 2}\n")


# How a report says what the server did (one of these, on a line that names the server).
SAID = ("did not finish", "answered", "sent", "cut the answer", "closed the connection",
        "cannot be right", "in time", "still answering")


@dataclass(frozen=True)
class Command:
    name: str
    endpoints: tuple[str, ...]  # what it asks the server
    reports: bool  # True: it reports a faulty server and exits 0; False: exit 1
    argv: Callable[[str], list[str]]


COMMANDS = {
    "benchmark": Command("benchmark", ("/api/version", "/api/tags", "/api/show",
                                       "/api/generate", "/api/ps"), False,
                         lambda url: ["benchmark", "--host", url, "--suite", "short_completion",
                                      "--iterations", "1", "--timeout", TIMEOUT,
                                      "--deadline", DEADLINE]),
    # the concurrent scenario: a fault in one of three clients at once
    "benchmark-concurrent": Command(
        "benchmark", ("/api/generate",), False,
        lambda url: ["benchmark", "--host", url, "--model", "tiny", "--suite", "concurrent",
                     "--concurrency", "3", "--iterations", "1", "--timeout", TIMEOUT,
                     "--deadline", DEADLINE]),
    "verify": Command("verify", ("/api/version", "/api/show", "/api/generate", "/api/ps"),
                      False, lambda url: ["verify", "--host", url, "--baseline", "base.json",
                                          "--timeout", TIMEOUT, "--deadline", DEADLINE]),
    "plan": Command("plan", ("/api/version", "/api/tags", "/api/show"), False,
                    lambda url: ["plan", "--host", url, "--timeout", TIMEOUT,
                                 "--deadline", DEADLINE]),
    "status": Command("status", ("/api/version", "/api/ps"), True,
                      lambda url: ["status", "--host", url, "--timeout", TIMEOUT,
                                   "--deadline", DEADLINE]),
    "detect": Command("detect", ("/api/version",), True,
                      lambda _url: ["detect", "--timeout", TIMEOUT]),
}

# Answers of the wrong shape, per endpoint: each must be refused, never half-used.
SHAPES: dict[str, list[object]] = {
    "/api/version": [[], None, "0.5.4", 42, {}, {"version": None}, {"version": 5},
                     {"version": ""}, {"version": ["0.5.4"]}, {"version": "9" * 1000},
                     {"version": "0.5\n4\x00"}],
    "/api/tags": [[], None, "tiny", {"models": "tiny"}, {"models": [1, 2]},
                  {"models": [None]}, {"models": [{"name": None}]}, {"models": [{"name": 5}]},
                  {"models": [{"name": "tiny:latest", "size": "big"}]},
                  {"models": [{"name": "tiny:latest", "size": -1}]},
                  {"models": [{"name": "tiny:latest", "size": 1e300}]},
                  {"models": [{"name": "tiny:latest", "details": []}]},
                  {"models": [{"name": "tiny:latest", "modified_at": 5}]}],
    "/api/show": [[], None, "x", {"parameters": 5}, {"model_info": []},
                  {"details": "F16"}, {"capabilities": "completion"}, {"capabilities": [1]},
                  {"template": ["{{ .Prompt }}"]}],
    "/api/ps": [[], None, {"models": {}}, {"models": [None]}, {"models": [{"name": None}]},
                {"models": [{"name": "tiny:latest", "size": "1"}]},
                {"models": [{"name": "tiny:latest", "size_vram": -5}]},
                {"models": [{"name": "tiny:latest", "context_length": "2048"}]},
                {"models": [{"name": "tiny:latest", "expires_at": 0}]}],
}

# Model metadata that plan's memory model must not size from (it falls back to its own table).
INFO = hostile.SHOW["model_info"]
MODEL_INFO: dict[str, dict[str, Any]] = {
    "block_count_string": {**INFO, "llama.block_count": "four"},
    "block_count_negative": {**INFO, "llama.block_count": -4},
    "block_count_huge": {**INFO, "llama.block_count": 10**12},
    "block_count_float": {**INFO, "llama.block_count": 1e300},
    "embedding_huge": {**INFO, "llama.embedding_length": 10**15},
    "heads_list_of_strings": {**INFO, "llama.attention.head_count": ["4", "x"]},
    "kv_heads_negative_list": {**INFO, "llama.attention.head_count_kv": [-1] * 4},
    "context_negative": {**INFO, "llama.context_length": -2048},
    "context_object": {**INFO, "llama.context_length": {"n": 2048}},
    "architecture_number": {**INFO, "general.architecture": 5},
    "parameter_count_string": {**INFO, "general.parameter_count": "3.6M"},
    "vocab_negative": {**INFO, "llama.vocab_size": -1},
    "sliding_window_string": {**INFO, "llama.attention.sliding_window": "x"},
}

# The last chunk of /api/generate with figures no server can produce, or of the wrong type.
D = hostile.DONE
FIGURES: dict[str, dict[str, Any]] = {
    "eval_duration_1ns": {**D, "eval_count": 32, "eval_duration": 1},
    "eval_duration_0": {**D, "eval_duration": 0},
    "prompt_eval_duration_0": {**D, "prompt_eval_duration": 0},
    "eval_count_negative": {**D, "eval_count": -5},
    "eval_count_billion": {**D, "eval_count": 10**9, "eval_duration": 10**6},
    "eval_count_string": {**D, "eval_count": "32"},
    "eval_count_float": {**D, "eval_count": 3.5},
    "eval_count_bool": {**D, "eval_count": True},
    "eval_count_huge_float": {**D, "eval_count": 1e300},
    "eval_count_list": {**D, "eval_count": [4]},
    "total_duration_an_hour": {**D, "total_duration": 3600 * 10**9},
    "load_duration_a_day": {**D, "load_duration": 86400 * 10**9},
    "eval_duration_a_day": {**D, "eval_duration": 86400 * 10**9},
    "prompt_eval_count_absurd": {**D, "prompt_eval_count": 10**12},
    "done_reason_number": {**D, "done_reason": 5},
}


def _stream(*chunks: object) -> bytes:
    return b"".join(json.dumps(c).encode() + b"\n" for c in chunks)


# Streams that end badly in ways only /api/generate can.
STREAMS: dict[str, bytes] = {
    "no_done": _stream(*hostile.TOKENS),
    "empty": b"",
    "error_chunk": _stream(hostile.TOKENS[0], {"error": "model runner crashed"}),
    "chunk_is_list": _stream([1, 2], D),
    "response_number": _stream({"response": 5, "done": False}, D),
    "done_string": _stream({"response": "x", "done": "yes"}),
    "garbage_line": b'{"response": "x", "done": false}\n\x00\xffnot json\n',
    "done_null_stats": _stream(*hostile.TOKENS, {"done": True, "eval_count": None,
                                                 "eval_duration": None,
                                                 "total_duration": None}),
}


@dataclass(frozen=True)
class Case:
    command: str
    endpoint: str
    misbehaviour: str
    talk: Callable[[threading.Event], hostile.Talk]
    # False: a misbehaviour the command tolerates by design (says so in the table)
    faulty: bool = True

    @property
    def id(self) -> str:
        return f"{self.command}-{self.endpoint.rsplit('/', 1)[-1]}-{self.misbehaviour}"


def _json_talk(value: object) -> Callable[[threading.Event], hostile.Talk]:
    return lambda _stop: hostile.json_answer(value)


def _body_talk(body: bytes) -> Callable[[threading.Event], hostile.Talk]:
    return lambda _stop: hostile.whole(body)


def _shape_name(value: object) -> str:
    """[] -> list, {"version": 5} -> version_5: readable test ids."""
    if value in ([], {}):
        return "empty_list" if value == [] else "empty_object"
    text = "".join(c if c.isalnum() or c == "." else " " for c in json.dumps(value))
    return "_".join(text.split())[:40]


def _cases() -> list[Case]:
    cases: list[Case] = []
    for key, command in COMMANDS.items():
        for endpoint in command.endpoints:
            for name, make in hostile.RAW.items():
                if name in ("endless_stream", "slow_stream") and endpoint != "/api/generate" \
                        and key != "benchmark":
                    continue  # the same as endless_line / trickle there
                cases.append(Case(key, endpoint, name, make))
            for value in SHAPES.get(endpoint, []):
                cases.append(Case(key, endpoint, f"shape_{_shape_name(value)}",
                                  _json_talk(value)))
        if key == "plan":
            for name, info in MODEL_INFO.items():
                cases.append(Case(key, "/api/show", f"model_info_{name}",
                                  _json_talk({**hostile.SHOW, "model_info": info})))
        if "/api/generate" in command.endpoints:
            for name, done in FIGURES.items():
                cases.append(Case(key, "/api/generate", f"figures_{name}",
                                  _body_talk(hostile.generate_lines(done))))
            for name, body in STREAMS.items():
                cases.append(Case(key, "/api/generate", f"stream_{name}", _body_talk(body)))
    return cases


CASES = _cases()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "velollm.yaml").write_text(BASE, encoding="utf-8")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(ollama_version="0.5.4"))
    return tmp_path


def _prepare(command: str, project: Path, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> None:
    if command == "plan":  # plan detects this machine: a fixed document keeps it about the server
        fixed = hardware_io.read_document(hwdocs.hardware(ollama_version="0.5.4"))
        monkeypatch.setattr(hardware_io, "detect", lambda **_: fixed)
    if command in ("verify", "status"):
        _applied(project, capsys)
    if command == "verify":
        (project / "base.json").write_text(_baseline(capsys), encoding="utf-8")


_APPLIED: dict[str, Path] = {}  # the first apply's state directory, copied by the others
_BASELINE: list[str] = []


def _applied(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The state of `velollm apply`: applied once per session (about a second), then copied."""
    if "state" in _APPLIED:
        shutil.copytree(_APPLIED["state"], state_dir(), dirs_exist_ok=True)
        return
    target = project.parent / "hostile-applied"  # in pytest's base temp: kept for the session
    target.mkdir(exist_ok=True)
    code, _, err = cli(capsys, "apply", "--hardware", str(project / "hw.json"), "--target",
                       "shell", "--path", str(target / "ollama.env.sh"), "--auto-approve")
    assert code == 0, err
    _APPLIED["state"] = target / "state"
    shutil.copytree(state_dir(), _APPLIED["state"])


def _baseline(capsys: pytest.CaptureFixture[str]) -> str:
    """A baseline measured on a well-behaved fake (once per session)."""
    if not _BASELINE:
        with hostile.serving(hostile.FakeOllama()) as url:
            code, _, err = cli(capsys, "benchmark", "--host", url, "--model", "tiny", "--suite",
                               "short_completion", "--iterations", "2", "--out", "base.json")
            assert code == 0, err
        _BASELINE.append(Path("base.json").read_text(encoding="utf-8"))
    return _BASELINE[0]


def run_case(case: Case, project: Path, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch, elsewhere: hostile.FakeOllama) -> None:
    """Run one case; `elsewhere` is another host, which must never see a request."""
    command = COMMANDS[case.command]
    _prepare(case.command, project, capsys, monkeypatch)
    fake = hostile.FakeOllama()
    fake.talk[case.endpoint] = case.talk(fake.stop)
    with hostile.serving(fake) as url:
        if case.command == "detect":  # its one way to be told where the server is
            monkeypatch.setenv("OLLAMA_HOST", url)
        started = time.monotonic()
        code, out, err = cli(capsys, *command.argv(url))
        took = time.monotonic() - started
    both = out + err
    assert "Traceback" not in both and "unexpected error" not in both, both
    assert not crash_log_dir().exists() or not any(crash_log_dir().iterdir())
    assert took < WITHIN_S, f"{case.id} took {took:.1f} s"
    assert not elsewhere.requests
    if not command.reports:
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert code == 1, both
        assert len(errors) == 1, err
        assert url in errors[0] or "127.0.0.1" in errors[0], errors[0]
        return
    assert code == 0, both
    named = [line for line in both.splitlines() if url in line and any(
        word in line for word in SAID)]
    assert named, both


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_misbehaving_server(case: Case, project: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    run_case(case, project, capsys, monkeypatch, hostile.FakeOllama())


REDIRECTS = [(key, e) for key, c in COMMANDS.items() for e in c.endpoints]


@pytest.mark.parametrize(("command", "endpoint"), REDIRECTS,
                         ids=[f"{c}-{e.rsplit('/', 1)[-1]}" for c, e in REDIRECTS])
def test_redirect_to_another_host_is_not_followed(command: str, endpoint: str, project: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    other = hostile.FakeOllama()
    with hostile.serving(other) as elsewhere_url:
        case = Case(command, endpoint, "redirect",
                    lambda _stop: hostile.redirect_to(elsewhere_url))
        run_case(case, project, capsys, monkeypatch, other)
    assert other.requests == []


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_well_behaved_server_passes(command: str, project: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: the same fake, behaving, gives exit 0 and real figures."""
    _prepare(command, project, capsys, monkeypatch)
    with hostile.serving(hostile.FakeOllama()) as url:
        monkeypatch.setenv("OLLAMA_HOST", url)
        code, out, err = cli(capsys, *COMMANDS[command].argv(url))
    assert code == 0, out + err
    assert "error:" not in err
    assert not [line for line in out.splitlines() if url in line and "did not" in line]


def test_the_corpus_is_large() -> None:
    assert len(CASES) + len(REDIRECTS) >= 100
