"""Switching target does not orphan a file (issue 14), through the CLI: `apply --target fish
--path o.fish`, then a plain `apply` (the shell target here): the plan lists o.fish as a file to
remove, apply takes it back through fileops (deleted, or the original it replaced put back) and
state forgets it; a hand-edited one is refused without --force and kept as a backup with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.io.state import load_state
from velollm.io.xdg import state_dir

CONFIG = """\
version: 1
backend: ollama
profile: balanced
target: {kind: auto}
server:
  keep_alive: 30m
"""
HW = ("--hardware", "hw.json")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())  # linux, no ollama.service: shell
    return tmp_path


def _apply_fish(capsys: pytest.CaptureFixture[str], *extra: str) -> Path:
    code, out, err = cli(capsys, "apply", *HW, "--target", "fish", "--path", "o.fish",
                         "--auto-approve", *extra)
    assert code == 0, out + err
    return Path("o.fish").absolute()  # as state records it


def _recorded() -> set[str]:
    return {r.path for r in load_state().files}


def test_the_file_of_the_previous_target_is_removed(project: Path, isolated_home: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    fish = _apply_fish(capsys)
    shell = isolated_home / ".config" / "velollm" / "ollama.env.sh"
    code, out, _ = cli(capsys, "destroy", "--check")  # destroy covers every file in state
    assert code == 0 and f"- {fish} (remove)" in out

    code, out, _ = cli(capsys, "plan", *HW, "--detailed-exitcode")
    assert code == 2
    assert f"- {fish} (written for the fish target)" in out
    assert "velollm.yaml no longer produces it: apply deletes it" in out
    assert out.splitlines()[-1].endswith(" to add, 0 to change, 1 to remove.")
    code, out, _ = cli(capsys, "plan", *HW, "--json")
    [gone] = [c for c in json.loads(out)["changes"] if c["scope"] == "file"]
    assert (gone["action"], gone["key"], gone["after"]) == ("remove", str(fish), None)

    code, out, err = cli(capsys, "apply", *HW, "--auto-approve")
    assert code == 0, out + err
    assert f"removed {fish}" in out and f"wrote {shell}" in out
    assert not fish.exists() and shell.exists()
    assert _recorded() == {str(shell)}
    code, out, _ = cli(capsys, "plan", *HW, "--detailed-exitcode")
    assert code == 0, out


def test_a_hand_edited_orphan_is_not_deleted_silently(project: Path, isolated_home: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    fish = _apply_fish(capsys)
    edited = fish.read_text() + "set -gx MY_OWN_SETTING 1\n"
    fish.write_text(edited)
    code, out, _ = cli(capsys, "plan", *HW)
    assert "changed outside velollm: apply refuses without --force" in out

    code, out, err = cli(capsys, "apply", *HW, "--auto-approve")
    assert code == 1
    assert f"{fish} was changed since velollm wrote it" in out + err
    assert fish.read_text() == edited  # nothing written, nothing removed
    assert _recorded() == {str(fish)}

    code, out, err = cli(capsys, "apply", *HW, "--auto-approve", "--force", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["removed"] == [str(fish)] and "kept as" in doc["msg"]
    assert not fish.exists()
    [copy] = (state_dir() / "backups").glob("*-o.fish.edited")
    assert copy.read_text() == edited and str(copy) in doc["msg"]
    assert _recorded() == {str(isolated_home / ".config" / "velollm" / "ollama.env.sh")}

    code, out, _ = cli(capsys, "destroy", "--auto-approve")
    assert code == 0 and load_state().files == ()


def test_an_orphan_that_replaced_a_file_puts_the_original_back(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("o.fish").write_text("# my own fish settings\n")
    fish = _apply_fish(capsys, "--force")  # replaced: the original is backed up
    [backup] = (state_dir() / "backups").iterdir()
    code, out, _ = cli(capsys, "plan", *HW, "--out", "plan.json")
    assert "apply puts back the original it replaced" in out

    code, out, err = cli(capsys, "apply", "plan.json")  # a saved plan carries the removal
    assert code == 0, out + err
    assert fish.read_text() == "# my own fish settings\n"
    assert str(fish) not in _recorded() and not backup.exists()
