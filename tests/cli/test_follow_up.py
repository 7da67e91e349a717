"""apply --restart runs the target's follow-up commands (real subprocesses, fake binaries)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cli import hwdocs
from velollm.main import main


def fake_tool(bindir: Path, name: str, log: Path, exit_code: int = 0) -> None:
    script = bindir / name
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "{name} $*" >> "{log}"\nexit {exit_code}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def macos_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\ntarget: {kind: launchd}\nserver: {keep_alive: 1h}\n")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(system="darwin", managed_by="app"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_restart_runs_launchctl_setenv(macos_project: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    log = macos_project / "calls.log"
    fake_tool(macos_project / "bin", "launchctl", log)
    code = main(["apply", "--hardware", "hw.json", "--auto-approve", "--restart", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["changed"] is True
    assert "launchctl setenv OLLAMA_KEEP_ALIVE 1h" in log.read_text()
    assert doc["ran"] and doc["follow_up"] == []


def test_without_restart_commands_are_only_printed(macos_project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    log = macos_project / "calls.log"
    fake_tool(macos_project / "bin", "launchctl", log)
    assert main(["apply", "--hardware", "hw.json", "--auto-approve"]) == 0
    out = capsys.readouterr().out
    assert "launchctl setenv OLLAMA_KEEP_ALIVE '1h'" in out
    assert not log.exists()


def test_failed_follow_up_is_a_clear_error(macos_project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    fake_tool(macos_project / "bin", "launchctl", macos_project / "calls.log", exit_code=3)
    code = main(["apply", "--hardware", "hw.json", "--auto-approve", "--restart"])
    err = capsys.readouterr().err
    assert code == 1
    assert "failed (exit 3)" in err
    assert "the files are already written" in err
