"""apply --restart on a target whose server velollm cannot restart (an `ollama serve` started
from a shell) says so, naming the exact command; the command is also the report's follow-up."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli

RESTART_WARNING = "--restart cannot restart a server started from a shell"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\nserver: {keep_alive: 1h}\n", encoding="utf-8")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    return tmp_path


def _apply(capsys: pytest.CaptureFixture[str], kind: str, path: Path,
           *extra: str) -> tuple[int, str, str]:
    return cli(capsys, "apply", "--hardware", "hw.json", "--target", kind, "--path", str(path),
               "--auto-approve", *extra)


def _serve_with(argv: list[str], project: Path) -> str:
    """Run the restart command with a fake `ollama` that prints the keep_alive it was given."""
    bindir = project / "bin"
    bindir.mkdir(exist_ok=True)
    fake = bindir / "ollama"
    fake.write_text('#!/bin/sh\nprintf "%s %s\\n" "$1" "$OLLAMA_KEEP_ALIVE"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                          env={"HOME": str(project), "PATH": f"{bindir}{os.pathsep}/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_shell_restart_says_what_to_run(project: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "my env" / "ollama.env.sh"  # a space: the command must quote it
    path.parent.mkdir()
    code, out, err = _apply(capsys, "shell", path, "--restart")
    assert code == 0  # the apply succeeded
    command = f". '{path}' && ollama serve"
    [warning] = err.splitlines()
    assert warning == f"warning: {RESTART_WARNING}: stop it and start it with `{command}`"
    follow = out.split("To make the server pick the change up, run:\n", 1)[1].splitlines()
    assert follow[0] == f"  {command}"
    assert f"stop the running server and start it with `{command}`." in follow[1]  # pickup
    # The command is exact: bash runs it and the server starts with the file's settings.
    assert _serve_with(["bash", "--norc", "--noprofile", "-c", command], project) == "serve 1h\n"


def test_shell_restart_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "ollama.env.sh"
    code, out, err = _apply(capsys, "shell", path, "--restart", "--json")
    doc = json.loads(out)
    command = f". {path} && ollama serve"
    assert code == 0 and doc["changed"] is True and doc["ran"] == []
    assert doc["follow_up"] == [command]
    assert doc["warnings"] == [f"{RESTART_WARNING}: stop it and start it with `{command}`"]
    assert err.splitlines() == [f"warning: {doc['warnings'][0]}"]
    assert f"start it with `{command}`." in doc["msg"]


def test_fish_restart_says_what_to_run(project: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "ollama.env.fish"
    code, out, err = _apply(capsys, "fish", path, "--restart", "--json")
    doc = json.loads(out)
    command = f"source {path}; and ollama serve"
    assert code == 0 and doc["warnings"] == [
        f"{RESTART_WARNING}: stop it and start it with `{command}`"]
    assert err.splitlines() == [f"warning: {doc['warnings'][0]}"]
    assert doc["follow_up"] == [command] and doc["ran"] == []
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (.ci/run installs zsh and fish with apt-get)")
    assert _serve_with(["fish", "--no-config", "-c", command], project) == "serve 1h\n"


def test_without_restart_the_command_is_only_shown(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "ollama.env.sh"
    code, out, err = _apply(capsys, "shell", path)
    assert code == 0 and err == ""
    assert f"  . {path} && ollama serve\n" in out
    # Nothing written, nothing to restart: no warning either.
    code, out, err = _apply(capsys, "shell", path, "--restart")
    assert code == 0 and err == "" and "No changes." in out
