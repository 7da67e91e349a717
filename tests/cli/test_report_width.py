"""The text reports of benchmark and verify fit the terminal (80 columns when there is none): long
cells wrap onto more lines; times read as local "2026-12-03 12:15" while --json keeps ISO 8601
(issue 14). A scripted Ollama (pytest-httpserver) answers; nothing real runs."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.report.layout import fit_table, local_time

DONE = {"done": True, "done_reason": "length", "total_duration": 20000000,
        "load_duration": 100000, "prompt_eval_count": 9, "prompt_eval_duration": 1000000,
        "eval_count": 32, "eval_duration": 10000000}  # durations within the wall time of a fake
STARTED = "2026-12-03T10:15:00+00:00"
EXPIRES = "2026-12-03T10:45:00.123456789Z"  # as Go writes it


@pytest.fixture
def utc_plus_2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "XYZ-2")  # POSIX: local time is UTC+2
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _stream(_request: Request) -> Response:
    lines = [{"response": "x", "done": False}] * 3 + [DONE]
    return Response("".join(json.dumps(x) + "\n" for x in lines))


def _serve(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.4"})
    httpserver.expect_request("/api/tags").respond_with_json(
        {"models": [{"name": "llama3.1:8b", "size": 1, "digest": "d"}]})
    httpserver.expect_request("/api/show").respond_with_json({"parameters": "num_ctx 2048"})
    httpserver.expect_request("/api/ps").respond_with_json(
        {"models": [{"name": "llama3.1:8b", "expires_at": EXPIRES, "size_vram": 1}]})
    httpserver.expect_request("/api/generate").respond_with_handler(_stream)
    return httpserver.url_for("/").rstrip("/")


def _long(text: str, width: int = 80) -> list[str]:
    return [line for line in text.splitlines() if len(line) > width]


def test_benchmark_and_verify_fit_80_columns(httpserver: HTTPServer, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, utc_plus_2: None,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    url = _serve(httpserver)
    code, out, err = cli(capsys, "benchmark", "--host", url, "--suite", "standard",
                         "--iterations", "1", "--out", "base.json")
    assert code == 0, err
    table = out.split("\n\n")[1]  # between the title and the averages
    assert table.splitlines()[0].startswith("benchmark") and "medium_completion" in table
    assert not _long(table), table
    base = json.loads((tmp_path / "base.json").read_text())
    (tmp_path / "base.json").write_text(json.dumps({**base, "started_at": STARTED}))

    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(ollama_version="0.5.4"))
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\nprofile: balanced\n"
        f"target: {{kind: shell, path: {tmp_path / 'ollama.env.sh'}}}\n"
        "server: {keep_alive: 30m, max_queue: 64}\nverify: {iterations: 1}\n")
    code, _, err = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")
    assert code == 0, err
    code, out, err = cli(capsys, "verify", "--host", url, "--baseline", "base.json")
    assert code == 0, err
    assert not _long(out), out
    assert "against the baseline of 2026-12-03 12:15 " in out  # local time, UTC+2
    assert "loaded: llama3.1:8b (expires 2026-12-03 12:45)" in out
    text = out

    code, out, _ = cli(capsys, "verify", "--host", url, "--baseline", "base.json", "--json")
    doc = json.loads(out)
    assert doc["benchmark"]["baseline_started_at"] == STARTED  # ISO 8601 in --json
    assert doc["loaded_models"][0]["expires_at"] == EXPIRES
    # the why column wrapped under itself: its words are all there, in order
    lines = text.splitlines()
    why_at = lines[1].index("why")  # the header
    first = next(i for i, line in enumerate(lines) if line.startswith("  OLLAMA_KEEP_ALIVE"))
    row = [lines[first], *itertools.takewhile(lambda line: line.startswith(" " * why_at),
                                              lines[first + 1:])]
    assert len(row) > 1  # wrapped
    why = next(s["why"] for s in doc["settings"] if s["env"] == "OLLAMA_KEEP_ALIVE")
    assert " ".join(line[why_at:] for line in row) == why

    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: no wrapping needed
    code, out, _ = cli(capsys, "verify", "--host", url, "--skip-benchmark")
    assert any(line.startswith("  OLLAMA_KEEP_ALIVE") and line.endswith(why)
               for line in out.splitlines()), out


def test_fit_table_and_local_time(utc_plus_2: None) -> None:
    rows = [("name", "decode tok/s", "why"), ("a", "1.0", "word " * 30)]
    natural = fit_table(rows, width=200)
    assert [len(lines) for lines in natural] == [1, 1]
    narrow = fit_table(rows, width=40, indent=2, flex=2, right={1})
    assert all(len(line) <= 40 for lines in narrow for line in lines)
    assert narrow[0][0].split() == ["name", "decode", "why"]  # the header wrapped
    assert " ".join(" ".join(line.split()[2:] if i == 0 else line.split())
                    for i, line in enumerate(narrow[1])) == ("word " * 30).strip()
    below = fit_table(rows, width=30, indent=2, flex=2)  # no room beside: the why goes below
    assert below[1][0] == "  a     1.0" and below[1][1].startswith("      word word")
    assert all(len(line) <= 30 for lines in below for line in lines)
    assert local_time("2026-12-03T10:15:07+00:00") == "2026-12-03 12:15"
    assert local_time("2026-12-03T10:15:07.5Z") == "2026-12-03 12:15"
    assert local_time(EXPIRES) == "2026-12-03 12:45"
    assert (local_time(None), local_time("soon")) == ("-", "soon")


def test_plan_text_fits_80_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan's reasons and notes wrap to the terminal; --json keeps them whole."""
    from tests.cli.cliutil import cli

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nprofile: cpu-only\ntarget: {kind: shell, path: o.sh}\n")
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert "# set by the cpu-only profile; num_parallel = 1: no models are listed" in out
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--json")
    reasons = [c["reason"] for c in json.loads(out)["changes"]]
    assert any(len(r) > 80 for r in reasons)  # whole sentences in the JSON twin
