"""^D at the confirmation prompt of a real `velollm apply` / `destroy` cancels like "no".

The prompt only asks when stdin is a terminal, so the command runs as a real process with a
pseudo-terminal on stdin; the test waits for the prompt, then types ^D (EOF) into it.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
version: 1
backend: ollama
target: {kind: shell}
server:
  keep_alive: 30m
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    return tmp_path


def env_file(home: Path) -> Path:
    return home / ".config" / "velollm" / "ollama.env.sh"


def answer_with_eof(cwd: Path, *argv: str) -> tuple[int, str, str]:
    """Run velollm with a terminal on stdin, wait for the prompt, type ^D; (code, out, err)."""
    master, slave = os.openpty()
    # This checkout first: the installed velollm may be another one.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "velollm", "--color", "never", *argv],
                                cwd=cwd, env=env, stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        os.close(slave)
        assert proc.stdout is not None and proc.stderr is not None
        out = _read_until(proc.stdout.fileno(), b"Enter a value:", timeout=60)
        os.write(master, b"\x04")  # ^D at the start of a line: read() sees end of file
        rest, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    return proc.returncode, (out + rest).decode(), err.decode()


def _read_until(fd: int, marker: bytes, *, timeout: float) -> bytes:
    data = b""
    end = time.monotonic() + timeout
    while marker not in data:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        chunk = os.read(fd, 4096) if ready else b""
        assert chunk, f"no prompt before the process stopped talking: {data!r}"
        data += chunk
    return data


def test_eof_at_apply_prompt_cancels(project: Path, isolated_home: Path) -> None:
    code, out, err = answer_with_eof(project, "apply", "--hardware", "hw.json")
    assert "+ OLLAMA_KEEP_ALIVE" in out
    assert code == 1, err
    assert "error: Apply cancelled." in err and "hint: nothing was written" in err
    assert "bug" not in err and "Traceback" not in err
    assert not env_file(isolated_home).exists()
    assert not (isolated_home / ".local/state/velollm/logs").exists()  # no crash log


def test_eof_at_destroy_prompt_cancels(project: Path, isolated_home: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")[0] == 0
    written = env_file(isolated_home).read_text()
    code, out, err = answer_with_eof(project, "destroy")
    assert "velollm will remove or restore:" in out
    assert code == 1, err
    assert "error: Destroy cancelled." in err and "hint: nothing was changed" in err
    assert "bug" not in err and "Traceback" not in err
    assert env_file(isolated_home).read_text() == written
    assert not (isolated_home / ".local/state/velollm/logs").exists()
