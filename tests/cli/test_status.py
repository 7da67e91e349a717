"""`velollm status`: what velollm applied, whether its files still match, and what the server has
(no server here: a port where nothing listens; tests/cli/test_status_realserver.py has one)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from tests.realserver import free_port
from velollm.io.state import state_path

WANTED = {"OLLAMA_KEEP_ALIVE": "1h", "OLLAMA_NUM_PARALLEL": "2"}  # and what the profile adds


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\nserver: {keep_alive: 1h, num_parallel: 2}\n",
        encoding="utf-8")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    return tmp_path


@pytest.fixture
def applied(project: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = project / "ollama.env.sh"
    code, _, err = cli(capsys, "apply", "--hardware", "hw.json", "--target", "shell", "--path",
                       str(path), "--auto-approve")
    assert code == 0, err
    return path


@pytest.fixture
def nobody() -> str:
    return f"http://127.0.0.1:{free_port()}"


def _applied_env() -> dict[str, str]:
    env: dict[str, str] = json.loads(state_path().read_text(encoding="utf-8"))["settings"]["env"]
    assert WANTED.items() <= env.items()
    return env


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def test_nothing_applied_suggests_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "status")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "Nothing applied yet: velollm has not written any settings on this machine.",
        "Run `velollm plan` to see what it would change, then `velollm apply`."]
    code, out, _ = cli(capsys, "status", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["applied"] is False and doc["files"] == doc["settings"] == []
    assert "velollm plan" in doc["hint"]


def test_applied_shell_file_and_a_server_that_is_down(applied: Path, nobody: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "status", "--host", nobody, "--json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["applied"] is True and doc["backend"] == {"name": "ollama", "title": "Ollama"}
    assert doc["target"] == "shell" and doc["target_path"] == str(applied)
    [file] = doc["files"]
    assert file["path"] == str(applied) and file["target"] == "shell"
    assert (file["drift"], file["matches"]) == ("none", True)
    written = datetime.fromisoformat(file["written_at"])
    assert written.utcoffset() is not None and abs(written.timestamp() - time.time()) < 60
    assert abs(datetime.fromisoformat(doc["applied_at"]).timestamp() - written.timestamp()) < 5
    assert doc["server"] == {"url": nobody, "reachable": False, "version": None,
                             "error": f"not reachable at {nobody}"}
    assert {s["env"]: s["wanted"] for s in doc["settings"]} == _applied_env()
    for s in doc["settings"]:
        assert (s["status"], s["observed"]) == ("unknown", None)
        assert s["why"] == f"server not reachable at {nobody}"
    assert doc["notes"] == []

    code, out, err = cli(capsys, "status", "--host", nobody)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(f"Applied {_local(doc['applied_at'])} (plan ")
    assert lines[0].endswith("): backend Ollama, target shell")
    [row] = [line for line in lines if line.startswith(f"  {applied} ")]
    assert row.split() == [str(applied), "shell", *_local(file["written_at"]).split(),
                           "matches", "what", "velollm", "wrote"]
    assert f"Server: not reachable at {nobody}" in lines
    # said once on the Server line, not again as the why of every setting
    assert sum("not reachable" in line for line in lines) == 1
    assert ["setting", "applied", "observed", "status"] in [line.split() for line in lines]
    for env, value in _applied_env().items():
        [row] = [line for line in lines if line.startswith(f"  {env} ")]
        assert row.split() == [env, value, "-", "unknown"]
    assert lines[-1] == ("status: 1 file(s) as velollm wrote them; "
                         f"settings: {len(_applied_env())} unknown")


def test_a_hand_edit_shows_as_drift(applied: Path, nobody: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    with applied.open("a", encoding="utf-8") as fh:
        fh.write("export OLLAMA_KEEP_ALIVE=5m\n")
    code, out, _ = cli(capsys, "status", "--host", nobody, "--json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["files"][0]["drift"], doc["files"][0]["matches"]) == ("changed", False)
    assert any("changed outside velollm" in n and "velollm plan" in n for n in doc["notes"])
    # what velollm applied is still what status reports as applied
    assert {s["env"]: s["wanted"] for s in doc["settings"]} == _applied_env()

    code, out, _ = cli(capsys, "status", "--host", nobody)
    assert code == 0
    [row] = [line for line in out.splitlines() if line.startswith(f"  {applied} ")]
    assert row.endswith("changed outside velollm")
    assert out.splitlines()[-1].startswith("status: 1 of 1 file(s) not as velollm wrote them;")

    applied.unlink()
    code, out, _ = cli(capsys, "status", "--host", nobody, "--json")
    [file] = json.loads(out)["files"]
    assert code == 0 and (file["drift"], file["written_at"]) == ("missing", None)


def test_after_destroy_nothing_is_applied(applied: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    assert cli(capsys, "destroy", "--auto-approve")[0] == 0
    code, out, _ = cli(capsys, "status")
    assert code == 0 and out.startswith("Nothing applied yet")


def test_an_unreadable_state_is_an_error(isolated_home: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = state_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    code, out, err = cli(capsys, "status")
    assert (code, out) == (1, "")
    assert err.splitlines()[0].startswith(f"error: the state file {path} is damaged")
    code, out, _ = cli(capsys, "status", "--json")
    assert code == 1 and json.loads(out)["status"] == "error"



def test_something_else_at_the_host_is_reported_not_failed(applied: Path, httpserver: HTTPServer,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    httpserver.expect_request("/api/version").respond_with_data("no", status=404)
    url = httpserver.url_for("/").rstrip("/")
    code, out, _ = cli(capsys, "status", "--host", url, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["server"]["reachable"] is False
    assert doc["server"]["error"].startswith(f"Ollama at {url} answered GET /api/version with HTTP 404")
    assert {s["status"] for s in doc["settings"]} == {"unknown"}
    assert all(s["why"] == doc["server"]["error"] for s in doc["settings"])
