"""Issue 15, symlinks: a managed file, a target, the state file, the lock file or velollm's own
directories swapped for a symbolic link (to another file, or dangling), or for a FIFO, never get
another file written, truncated or deleted: apply, destroy and plan refuse with one message that
names the link, exit 1, and write nothing. A symlinked parent directory (a dotfiles checkout) is
the user's choice and still works."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from tests.cli.hostile import refused, snapshot
from velollm.io.xdg import state_dir

CONFIG = """\
version: 1
backend: ollama
target: {kind: shell}
server:
  keep_alive: 30m
"""
HW = ("--hardware", "hw.json")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    (tmp_path / "victim.txt").write_text("keep me\n")
    return tmp_path


def _target(home: Path) -> Path:
    return home / ".config" / "velollm" / "ollama.env.sh"


def _apply(capsys: pytest.CaptureFixture[str], *extra: str) -> None:
    code, out, err = cli(capsys, "apply", *HW, "--auto-approve", *extra)
    assert code == 0, out + err


def _change_config(project: Path) -> None:
    """So that the next apply has something to write."""
    (project / "velollm.yaml").write_text(CONFIG.replace("30m", "2h"))


def _swap(path: Path, to: Path) -> None:
    path.unlink()
    path.symlink_to(to)


# Each case: what to do after a first apply (or before any, "fresh"), and the command to run.
Setup = Callable[[Path, Path], None]


def _managed_to_victim(home: Path, project: Path) -> None:
    _swap(_target(home), project / "victim.txt")
    _change_config(project)


def _managed_to_victim_unchanged(home: Path, project: Path) -> None:
    _swap(_target(home), project / "victim.txt")


def _managed_dangling(home: Path, project: Path) -> None:
    _swap(_target(home), project / "planted.sh")
    _change_config(project)


def _managed_fifo(home: Path, project: Path) -> None:
    _target(home).unlink()
    os.mkfifo(_target(home))
    _change_config(project)


def _managed_directory(home: Path, project: Path) -> None:
    _target(home).unlink()
    _target(home).mkdir()
    _change_config(project)


def _state_to_victim(home: Path, project: Path) -> None:
    _swap(state_dir() / "state.json", project / "victim.txt")
    _change_config(project)


def _state_to_copy(home: Path, project: Path) -> None:
    """A link to a perfectly good state elsewhere: still not followed."""
    copy = project / "state-copy.json"
    copy.write_bytes((state_dir() / "state.json").read_bytes())
    _swap(state_dir() / "state.json", copy)
    _change_config(project)


def _state_dangling(home: Path, project: Path) -> None:
    _swap(state_dir() / "state.json", project / "planted.json")
    _change_config(project)


def _state_fifo(home: Path, project: Path) -> None:
    (state_dir() / "state.json").unlink()
    os.mkfifo(state_dir() / "state.json")
    _change_config(project)


def _lock_to_victim(home: Path, project: Path) -> None:
    _swap(state_dir() / "lock", project / "victim.txt")
    _change_config(project)


def _lock_dangling(home: Path, project: Path) -> None:
    _swap(state_dir() / "lock", project / "planted.lock")
    _change_config(project)


def _lock_fifo(home: Path, project: Path) -> None:
    (state_dir() / "lock").unlink()
    os.mkfifo(state_dir() / "lock")
    _change_config(project)


def _state_dir_link(home: Path, project: Path) -> None:
    moved = project / "moved-state"
    state_dir().rename(moved)
    state_dir().symlink_to(moved)
    _change_config(project)


def _backup_to_victim(home: Path, project: Path) -> None:
    [backup] = (state_dir() / "backups").iterdir()
    _swap(backup, project / "victim.txt")


def _backups_dir_link(home: Path, project: Path) -> None:
    (state_dir() / "backups").rename(project / "moved-backups")
    (state_dir() / "backups").symlink_to(project / "moved-backups")


def _fresh_target_to_victim(home: Path, project: Path) -> None:
    _target(home).parent.mkdir(parents=True)
    _target(home).symlink_to(project / "victim.txt")


def _fresh_target_dangling(home: Path, project: Path) -> None:
    _target(home).parent.mkdir(parents=True)
    _target(home).symlink_to(project / "planted.sh")


def _fresh_backups_link(home: Path, project: Path) -> None:
    (project / "elsewhere").mkdir()
    state_dir().mkdir(parents=True)
    (state_dir() / "backups").symlink_to(project / "elsewhere")
    _target(home).parent.mkdir(parents=True)
    _target(home).write_text("export MINE=1\n")  # a foreign file: --force backs it up


def _plan_out_link(home: Path, project: Path) -> None:
    (project / "p.json").symlink_to(project / "victim.txt")


def _plan_out_dangling(home: Path, project: Path) -> None:
    (project / "p.json").symlink_to(project / "planted.json")


APPLY = ("apply", *HW, "--auto-approve")
FORCE = (*APPLY, "--force")
DESTROY = ("destroy", "--auto-approve")
PLAN = ("plan", *HW)
# name: (first apply with --force over a foreign file?, setup, command, words in the message)
CASES: dict[str, tuple[str, Setup, tuple[str, ...], str]] = {
    "managed-to-victim-apply": ("applied", _managed_to_victim, APPLY, "symbolic link"),
    "managed-to-victim-force": ("applied", _managed_to_victim, FORCE, "symbolic link"),
    "managed-to-victim-unchanged": ("applied", _managed_to_victim_unchanged, APPLY,
                                    "symbolic link"),
    "managed-to-victim-destroy": ("applied", _managed_to_victim, DESTROY, "symbolic link"),
    "managed-to-victim-plan": ("applied", _managed_to_victim, PLAN, "symbolic link"),
    "managed-dangling-apply": ("applied", _managed_dangling, APPLY, "symbolic link"),
    "managed-dangling-destroy": ("applied", _managed_dangling, DESTROY, "symbolic link"),
    "managed-fifo-apply": ("applied", _managed_fifo, APPLY, "not a regular file"),
    "managed-fifo-plan": ("applied", _managed_fifo, PLAN, "not a regular file"),
    "managed-fifo-destroy": ("applied", _managed_fifo, DESTROY, "not a regular file"),
    "managed-directory-apply": ("applied", _managed_directory, APPLY, "not a regular file"),
    "state-to-victim-apply": ("applied", _state_to_victim, APPLY, "symbolic link"),
    "state-to-victim-destroy": ("applied", _state_to_victim, DESTROY, "symbolic link"),
    "state-to-copy-apply": ("applied", _state_to_copy, APPLY, "symbolic link"),
    "state-dangling-apply": ("applied", _state_dangling, APPLY, "symbolic link"),
    "state-fifo-apply": ("applied", _state_fifo, APPLY, "not a regular file"),
    "state-fifo-plan": ("applied", _state_fifo, PLAN, "not a regular file"),
    "lock-to-victim-apply": ("applied", _lock_to_victim, APPLY, "symbolic link"),
    "lock-to-victim-destroy": ("applied", _lock_to_victim, DESTROY, "symbolic link"),
    "lock-dangling-apply": ("applied", _lock_dangling, APPLY, "symbolic link"),
    "lock-fifo-apply": ("applied", _lock_fifo, APPLY, "not a regular file"),
    "state-dir-link-apply": ("applied", _state_dir_link, APPLY, "symbolic link"),
    "backup-to-victim-destroy": ("forced", _backup_to_victim, DESTROY, "symbolic link"),
    "backups-dir-link-destroy": ("forced", _backups_dir_link, DESTROY, "symbolic link"),
    "fresh-target-to-victim-apply": ("fresh", _fresh_target_to_victim, APPLY, "symbolic link"),
    "fresh-target-to-victim-force": ("fresh", _fresh_target_to_victim, FORCE, "symbolic link"),
    "fresh-target-dangling-apply": ("fresh", _fresh_target_dangling, APPLY, "symbolic link"),
    "fresh-target-dangling-plan": ("fresh", _fresh_target_dangling, PLAN, "symbolic link"),
    "fresh-backups-link-force": ("fresh", _fresh_backups_link, FORCE, "symbolic link"),
    "plan-out-to-victim": ("fresh", _plan_out_link, (*PLAN, "--out", "p.json"), "symbolic link"),
    "plan-out-dangling": ("fresh", _plan_out_dangling, (*PLAN, "--out", "p.json"),
                          "symbolic link"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_swapped_link_is_refused_and_nothing_is_written(
        name: str, project: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    first, setup, argv, message = CASES[name]
    if first == "forced":  # a foreign file replaced: velollm keeps a backup of it
        _target(isolated_home).parent.mkdir(parents=True)
        _target(isolated_home).write_text("export MINE=1\n")
        _apply(capsys, "--force")
    elif first == "applied":
        _apply(capsys)
    setup(isolated_home, project)
    victim = (project / "victim.txt").read_bytes()
    err = refused(capsys, [project, isolated_home], *argv)
    assert message in err
    assert (project / "victim.txt").read_bytes() == victim
    for planted in ("planted.sh", "planted.json", "planted.lock"):
        assert not (project / planted).exists()


def test_a_symlinked_parent_directory_is_the_users_choice(
        project: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """~/.config linked into a dotfiles checkout: only the final component is checked."""
    dotfiles = project / "dotfiles" / "config"
    dotfiles.mkdir(parents=True)
    (isolated_home / ".config").symlink_to(dotfiles)
    _apply(capsys)
    written = dotfiles / "velollm" / "ollama.env.sh"
    assert "OLLAMA_KEEP_ALIVE='30m'" in written.read_text() and not written.is_symlink()
    assert cli(capsys, "destroy", "--auto-approve")[0] == 0
    assert not written.exists() and (isolated_home / ".config").is_symlink()


def test_a_refused_link_says_where_it_points_and_what_to_do(
        project: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _apply(capsys)
    _managed_to_victim(isolated_home, project)
    before = snapshot(project, isolated_home)
    code, _, err = cli(capsys, "apply", *HW, "--auto-approve")
    assert code == 1
    assert (f"{_target(isolated_home)} is a symbolic link (to {project / 'victim.txt'}): velollm "
            "writes through no symbolic link it did not create") in err
    assert "replace the link" in err and "nothing was written" in err
    assert snapshot(project, isolated_home) == before
    # once the link is gone, apply writes a regular file again
    _target(isolated_home).unlink()
    _apply(capsys)
    assert not _target(isolated_home).is_symlink()
    assert (project / "victim.txt").read_text() == "keep me\n"
