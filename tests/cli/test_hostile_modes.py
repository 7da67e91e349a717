"""Issue 15, modes: the state directory and its backups are 0700, state.json and the lock 0600, a
backup keeps the mode of the original (a 0600 file's copy is not readable by others) and destroy
puts the original back with its own mode; nothing velollm writes is setuid, setgid, sticky or
writable by others, whatever mode the file it replaces had."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.io.xdg import state_dir

CONFIG = """\
version: 1
backend: ollama
target: {kind: shell}
server:
  keep_alive: 30m
models:
  - name: llama3.1:8b
    num_ctx: 4096
"""
HW = ("--hardware", "hw.json")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    return tmp_path


def _target(home: Path) -> Path:
    return home / ".config" / "velollm" / "ollama.env.sh"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _apply(capsys: pytest.CaptureFixture[str], *extra: str) -> None:
    code, out, err = cli(capsys, "apply", *HW, "--auto-approve", *extra)
    assert code == 0, out + err


def _written_by_velollm(home: Path, project: Path) -> list[Path]:
    return [*home.rglob("*"), project / "p.json"]


def test_what_velollm_writes_has_safe_modes(project: Path, isolated_home: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _target(isolated_home).parent.mkdir(parents=True)
    _target(isolated_home).write_text("export MINE=1\n")
    os.chmod(_target(isolated_home), 0o600)
    assert cli(capsys, "plan", *HW, "--out", "p.json")[0] == 0
    _apply(capsys, "--force")
    assert _mode(state_dir()) == 0o700
    assert _mode(state_dir() / "state.json") == 0o600
    assert _mode(state_dir() / "lock") == 0o600
    assert _mode(state_dir() / "backups") == 0o700
    [backup] = (state_dir() / "backups").iterdir()
    assert _mode(backup) == 0o600 and backup.read_text() == "export MINE=1\n"
    assert _mode(_target(isolated_home)) == 0o600  # velollm's version keeps the file's mode
    modelfile = isolated_home / ".config/velollm/modelfiles/llama3.1_8b.Modelfile"
    assert _mode(modelfile) == 0o644
    assert _mode(project / "p.json") == 0o600
    for path in _written_by_velollm(isolated_home, project):
        mode = _mode(path)
        assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWOTH), path
        if path.is_relative_to(state_dir()) and path != state_dir():
            assert stat.S_ISDIR(os.lstat(path).st_mode) or not mode & 0o077, path

    assert cli(capsys, "destroy", "--auto-approve")[0] == 0
    assert _target(isolated_home).read_text() == "export MINE=1\n"
    assert _mode(_target(isolated_home)) == 0o600  # the original's own mode, not velollm's


@pytest.mark.parametrize("original", [0o640, 0o600, 0o400, 0o755])
def test_a_backup_keeps_the_originals_mode_and_destroy_restores_it(
        original: int, project: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    target = _target(isolated_home)
    target.parent.mkdir(parents=True)
    target.write_text("export MINE=1\n")
    os.chmod(target, original)
    _apply(capsys, "--force")
    [backup] = (state_dir() / "backups").iterdir()
    assert _mode(backup) == original
    assert cli(capsys, "destroy", "--auto-approve")[0] == 0
    assert (target.read_text(), _mode(target)) == ("export MINE=1\n", original)


@pytest.mark.parametrize("unsafe", [0o4777, 0o2755, 0o1777, 0o666, 0o4755])
def test_an_unsafe_mode_is_never_written(unsafe: int, project: Path, isolated_home: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A managed file (and a foreign one) given setuid, setgid, sticky or o+w: velollm's next
    write drops those bits; the backup of the foreign one does too."""
    _apply(capsys)
    os.chmod(_target(isolated_home), unsafe)
    (project / "velollm.yaml").write_text(CONFIG.replace("30m", "2h"))
    _apply(capsys)
    assert _mode(_target(isolated_home)) == unsafe & 0o775
    foreign = project / "theirs.sh"
    foreign.write_text("export MINE=1\n")
    os.chmod(foreign, unsafe)
    _apply(capsys, "--force", "--path", str(foreign))
    assert _mode(foreign) == unsafe & 0o775
    for backup in (state_dir() / "backups").iterdir():
        assert _mode(backup) == unsafe & 0o775


def test_an_older_state_directory_is_made_private(project: Path, isolated_home: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A state directory and files an earlier velollm left readable by others are narrowed."""
    _apply(capsys)
    os.chmod(state_dir(), 0o755)
    os.chmod(state_dir() / "state.json", 0o644)
    os.chmod(state_dir() / "lock", 0o644)
    (project / "velollm.yaml").write_text(CONFIG.replace("30m", "2h"))
    _apply(capsys)
    assert (_mode(state_dir()), _mode(state_dir() / "state.json"),
            _mode(state_dir() / "lock")) == (0o700, 0o600, 0o600)
