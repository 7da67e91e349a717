"""apply_files / remove_files / state: create, idempotence, conflicts, backups, drift, destroy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from velollm.core.files import RenderedFile
from velollm.errors import ApplyConflictError, WriteError
from velollm.io.fileops import apply_files, remove_files, unified_diff
from velollm.io.state import StateError, drifted, file_hash, load_state, sha256_bytes
from velollm.io.xdg import state_dir


def _file(path: Path, content: str, mode: int = 0o644) -> RenderedFile:
    return RenderedFile(path=path, content=content, mode=mode, kind="shell")


def test_state_dir_follows_xdg(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert state_dir() == isolated_home / ".local/state/velollm"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert state_dir() == isolated_home / ".local/state/velollm"
    monkeypatch.setenv("XDG_STATE_HOME", "/elsewhere")
    assert state_dir() == Path("/elsewhere/velollm")


def test_create_records_state_and_second_apply_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "ollama.env.sh"
    files = [_file(target, "export A='1'\n")]
    first = apply_files(files, plan_id="p1", fingerprint="f1", settings={"A": "1"})
    assert first.changed and first.written == (target,)
    assert [(d.path, d.before, d.after) for d in first.diffs] == [(str(target), None,
                                                                   "export A='1'\n")]
    assert target.read_text() == "export A='1'\n" and (target.stat().st_mode & 0o777) == 0o644
    state = load_state()
    [rec] = state.files
    assert (rec.path, rec.sha256, rec.created, rec.backup) == (
        str(target), sha256_bytes(b"export A='1'\n"), True, None)
    assert (state.plan_id, state.fingerprint, state.settings) == ("p1", "f1", {"A": "1"})
    assert state.applied_at
    assert rec.target == "shell"  # the kind that rendered it: verify asks which target is live
    mtimes = (target.stat().st_mtime_ns, (state_dir() / "state.json").stat().st_mtime_ns)

    second = apply_files(files, plan_id="p1")
    assert not second.changed and second.written == () and second.diffs == ()
    assert (target.stat().st_mtime_ns, (state_dir() / "state.json").stat().st_mtime_ns) == mtimes


def test_update_of_managed_file_keeps_mode_and_owner(tmp_path: Path) -> None:
    target = tmp_path / "f.conf"
    apply_files([_file(target, "velollm one\n")])
    os.chmod(target, 0o600)
    if os.geteuid() == 0:
        os.chown(target, 12345, 23456)
    result = apply_files([_file(target, "velollm two\n", mode=0o644)])
    assert result.changed and result.backups == ()
    assert [(d.before, d.after) for d in result.diffs] == [("velollm one\n", "velollm two\n")]
    st = target.stat()
    assert st.st_mode & 0o777 == 0o600
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (12345, 23456)
    assert drifted(load_state()) == []


def test_foreign_file_is_not_overwritten_without_force(tmp_path: Path) -> None:
    target = tmp_path / "theirs.sh"
    target.write_text("mine\n")
    with pytest.raises(ApplyConflictError, match="did not create") as info:
        apply_files([_file(tmp_path / "new.sh", "x\n"), _file(target, "ours\n")])
    assert "--force" in (info.value.hint or "")
    assert target.read_text() == "mine\n"
    assert not (tmp_path / "new.sh").exists()  # checked before anything is written
    assert load_state().files == ()


def test_identical_foreign_file_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "same.sh"
    target.write_text("same\n")
    assert not apply_files([_file(target, "same\n")]).changed
    assert load_state().files == ()


def test_force_backs_up_and_destroy_restores(tmp_path: Path) -> None:
    theirs, ours = tmp_path / "theirs.conf", tmp_path / "d" / "ours.conf"
    theirs.write_text("original\n")
    os.chmod(theirs, 0o640)
    result = apply_files([_file(theirs, "velollm\n"), _file(ours, "velollm created\n")], force=True)
    [backup] = result.backups
    assert backup.parent == state_dir() / "backups"
    assert backup.read_text() == "original\n" and backup.stat().st_mode & 0o777 == 0o640
    assert load_state().record(theirs).backup == str(backup)  # type: ignore[union-attr]
    # A later change keeps the first backup (the user's original), not velollm's own version.
    again = apply_files([_file(theirs, "velollm 2\n"), _file(ours, "velollm created\n")])
    assert again.backups == ()

    gone = remove_files()
    assert gone.changed and gone.restored == (theirs,) and gone.removed == (ours,)
    assert theirs.read_text() == "original\n" and theirs.stat().st_mode & 0o777 == 0o640
    assert not ours.exists() and not backup.exists()
    assert load_state().files == ()
    assert not remove_files().changed  # destroy is idempotent too


def test_destroy_dry_run_and_subset(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    apply_files([_file(a, "velollm A\n"), _file(b, "velollm B\n")])
    check = remove_files(dry_run=True)
    assert check.changed and check.dry_run and a.exists() and b.exists()
    assert {d.path for d in check.diffs} == {str(a), str(b)}
    part = remove_files(paths=[a])
    assert part.removed == (a,) and b.exists()
    assert [r.path for r in load_state().files] == [str(b)]


def test_dry_run_reports_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "x"
    result = apply_files([_file(target, "new\n")], dry_run=True)
    assert result.changed and result.dry_run and result.written == ()
    assert not target.exists() and not (state_dir() / "state.json").exists()


def test_drift_after_hand_edit_and_deletion(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    apply_files([_file(a, "A\n"), _file(b, "B\n")])
    assert drifted(load_state()) == []
    a.write_text("# Managed by velollm\nhand edit\n")  # an edit keeps velollm's header
    b.unlink()
    drifts = {d.path: d for d in drifted(load_state())}
    assert drifts[str(a)].expected_hash == sha256_bytes(b"A\n")
    assert drifts[str(a)].actual_hash == file_hash(a)
    assert drifts[str(b)].actual_hash is None
    # apply puts the managed content back without a conflict (the files are ours)
    assert apply_files([_file(a, "A\n"), _file(b, "B\n")]).changed
    assert drifted(load_state()) == []


def test_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "env.sh"
    real.parent.mkdir()
    link = tmp_path / "env.sh"
    apply_files([_file(real, "velollm v1\n")])
    link.symlink_to(real)
    apply_files([_file(real, "velollm v2\n")])
    assert link.is_symlink() and real.read_text() == "velollm v2\n"


def test_damaged_state_is_a_clear_error(tmp_path: Path) -> None:
    state_dir().mkdir(parents=True)
    (state_dir() / "state.json").write_text("{not json")
    with pytest.raises(StateError, match="damaged"):
        apply_files([_file(tmp_path / "x", "x")])
    (state_dir() / "state.json").write_text(json.dumps({"version": 99}))
    with pytest.raises(StateError, match="version"):
        load_state()


def test_unified_diff() -> None:
    text = unified_diff("/p/f", "a\nb\n", "a\nc\n")
    assert text.splitlines() == ["--- a/p/f", "+++ b/p/f", "@@ -1,2 +1,2 @@", " a", "-b", "+c"]
    created = unified_diff("/p/f", None, "x")
    assert created.startswith("--- /dev/null\n+++ b/p/f\n")
    assert created.endswith("+x\n\\ No newline at end of file\n")


def test_hand_edit_that_matches_the_new_content_is_adopted_without_a_write(tmp_path: Path) -> None:
    target = tmp_path / "f"
    apply_files([_file(target, "A\n")])
    target.write_text("B\n")
    before = target.stat().st_mtime_ns
    apply_files([_file(target, "B\n")])
    assert target.stat().st_mtime_ns == before
    assert drifted(load_state()) == []


def test_retire_takes_back_files_the_plan_no_longer_produces(tmp_path: Path) -> None:
    old, new, foreign = tmp_path / "o.fish", tmp_path / "n.sh", tmp_path / "not-ours"
    foreign.write_text("mine\n")
    apply_files([RenderedFile(old, "# velollm\nset -gx A 1\n", kind="fish")])
    preview = apply_files([_file(new, "export A='1'\n")], retire=[old, foreign], dry_run=True)
    assert [(d.path, d.after) for d in preview.diffs] == [(str(new), "export A='1'\n"),
                                                          (str(old), None)]
    assert old.exists() and [r.path for r in load_state().files] == [str(old)]
    result = apply_files([_file(new, "export A='1'\n")], retire=[old, foreign])
    assert (result.removed, result.written) == ((old,), (new,))
    assert not old.exists() and foreign.read_text() == "mine\n"  # only what state records
    assert [r.path for r in load_state().files] == [str(new)]
    # gone by hand: nothing to delete, state forgets it all the same
    apply_files([RenderedFile(old, "# velollm\nset -gx A 1\n", kind="fish")])
    old.unlink()
    result = apply_files([_file(new, "export A='1'\n")], retire=[old])
    assert (result.changed, result.removed) == (True, ())  # state changed, no file did
    assert [r.path for r in load_state().files] == [str(new)]


def test_retiring_a_hand_edited_file_needs_force_and_keeps_the_edits(tmp_path: Path) -> None:
    old, new = tmp_path / "o.fish", tmp_path / "n.sh"
    apply_files([RenderedFile(old, "# velollm\nset -gx A 1\n", kind="fish")])
    old.write_text("# velollm\nset -gx A 1\nset -gx MINE 1\n")
    with pytest.raises(ApplyConflictError, match="changed since velollm wrote it") as info:
        apply_files([_file(new, "export A='1'\n")], retire=[old])
    assert info.value.path == str(old) and not new.exists()  # refused before any write
    result = apply_files([_file(new, "export A='1'\n")], retire=[old], force=True)
    [kept] = result.kept
    assert kept.read_text() == "# velollm\nset -gx A 1\nset -gx MINE 1\n" and not old.exists()
    assert kept.parent == state_dir() / "backups"


@pytest.mark.parametrize("mode", [0o4755, 0o2755, 0o1755, 0o666, 0o10000, -1])
def test_an_unsafe_mode_is_refused_before_anything_is_written(tmp_path: Path, mode: int) -> None:
    first, bad = tmp_path / "first", tmp_path / "bad"
    with pytest.raises(WriteError, match=r"velollm never writes .* with mode"):
        apply_files([_file(first, "velollm\n"), _file(bad, "velollm\n", mode=mode)])
    assert not first.exists() and not bad.exists() and not state_dir().exists()


@pytest.mark.parametrize("path", ["relative.sh", "/tmp/a/../b.sh", "../b.sh"])
def test_a_relative_or_unnormalised_path_is_refused(path: str) -> None:
    with pytest.raises(WriteError, match="absolute, normalised"):
        apply_files([_file(Path(path), "velollm\n")], dry_run=True)
