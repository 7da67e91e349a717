"""Faults: kill -9 mid-apply, concurrent applies, the lock, permission denied, disk full, read-only."""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from velollm.core.files import RenderedFile
from velollm.errors import LockHeldError, WriteError
from velollm.io import fileops
from velollm.io.fileops import apply_files
from velollm.io.state import drifted, load_state

REPO = Path(__file__).resolve().parents[2]
BIG = 256 * 1024  # large enough that a torn write would show


def _content(tag: str) -> str:
    return f"# {tag}, managed by velollm\n" + (tag[-1] * BIG) + "\n"


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()  # reaps it and closes the pipes


WRITER = """
    import sys
    from pathlib import Path
    from velollm.io.fileops import apply_files
    from velollm.core.files import RenderedFile
    state, tag, rounds, *paths = sys.argv[1:]
    def content(t): return f"# {t}, managed by velollm\\n" + (t[-1] * (256 * 1024)) + "\\n"
    i = 0
    while rounds == "forever" or i < int(rounds):
        t = f"{tag}{i % 2 + 1}"
        apply_files([RenderedFile(Path(p), content(t)) for p in paths], Path(state),
                    lock_timeout=120)
        if i == 0:
            print("ready", flush=True)
        i += 1
"""


def _files(tmp_path: Path) -> list[Path]:
    return [tmp_path / "t" / name for name in ("ollama.env.sh", "velollm.conf", "x.plist")]


def test_kill_9_never_leaves_a_torn_file_and_the_next_apply_succeeds(tmp_path: Path) -> None:
    state = tmp_path / "state"
    paths = _files(tmp_path)
    allowed = {_content("v1"), _content("v2")}
    rng = random.Random(5)
    for _ in range(8):
        proc = _spawn(WRITER, str(state), "v", "forever", *map(str, paths))
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=rng.uniform(0.0, 0.2))  # let it run into a random point
        _kill(proc)
        for path in paths:
            assert path.read_text() in allowed, f"{path} is torn"
        load_state(state)  # state.json is never torn either
    result = apply_files([RenderedFile(p, _content("v3")) for p in paths], state, lock_timeout=5)
    assert result.changed
    assert all(p.read_text() == _content("v3") for p in paths)
    assert drifted(load_state(state)) == []
    assert not list(tmp_path.rglob("*.velollm-tmp")), "stale temp files were not cleaned up"


def test_two_applies_at_once_serialise(tmp_path: Path) -> None:
    state = tmp_path / "state"
    paths = _files(tmp_path)
    procs = [_spawn(WRITER, str(state), tag, "12", *map(str, paths)) for tag in ("a", "b")]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    # Every file comes from the same, last apply, and state agrees with every file.
    contents = {p.read_text() for p in paths}
    assert len(contents) == 1 and contents <= {_content(t) for t in ("a1", "a2", "b1", "b2")}
    assert drifted(load_state(state)) == []
    assert len(load_state(state).files) == 3


HOLDER = """
    import sys
    from pathlib import Path
    from velollm.io.filelock import file_lock
    with file_lock(Path(sys.argv[1])):
        print("locked", flush=True)
        sys.stdin.read()
"""


def test_held_lock_fails_with_a_clear_message_and_dies_with_its_process(tmp_path: Path) -> None:
    state = tmp_path / "state"
    holder = _spawn(HOLDER, str(state))
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(LockHeldError, match=f"another velollm apply or destroy is running "
                                                f"\\(pid {holder.pid}\\)") as info:
            apply_files([RenderedFile(tmp_path / "f", "x\n")], state, lock_timeout=0.2)
        assert "wait for it" in (info.value.hint or "")
        assert not (tmp_path / "f").exists()
    finally:
        _kill(holder)
    # kill -9 of the holder: the kernel released the flock, nothing stale blocks the next apply.
    assert apply_files([RenderedFile(tmp_path / "f", "x\n")], state, lock_timeout=5).changed


def test_permission_error_at_replace_leaves_original_and_state_intact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "managed.sh"
    apply_files([RenderedFile(target, "velollm old\n")], plan_id="p1")
    real_replace = os.replace

    def refuse(src: str, dst: str | Path) -> None:
        if Path(dst) == target:
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(fileops.os, "replace", refuse)
    with pytest.raises(WriteError, match=f"permission denied: cannot write {target}") as info:
        apply_files([RenderedFile(tmp_path / "b", "b\n"), RenderedFile(target, "velollm new\n")],
                    plan_id="p2")
    assert "sudo" in (info.value.hint or "")
    assert target.read_text() == "velollm old\n" and (tmp_path / "b").read_text() == "b\n"
    assert not list(tmp_path.glob("*.velollm-tmp"))
    state = load_state()
    assert drifted(state) == []  # state still describes exactly what is on disk
    assert [r.path for r in state.files] == [str(tmp_path / "b"), str(target)]
    assert state.plan_id == "p1"  # the failed plan is not recorded as applied


def _run_as_root_without_dac_override(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner",
                           sys.executable, "-c", textwrap.dedent(code), str(tmp_path)],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to drop CAP_DAC_OVERRIDE for a real EACCES")
def test_real_permission_denied_says_run_with_sudo(tmp_path: Path) -> None:
    etc = tmp_path / "etc-like"
    etc.mkdir()
    (etc / "velollm.conf").write_text("original\n")
    os.chown(etc, 65534, 65534)  # not ours: without CAP_DAC_OVERRIDE root cannot write here
    os.chown(etc / "velollm.conf", 65534, 65534)
    state = tmp_path / "state"
    state.mkdir()
    proc = _run_as_root_without_dac_override("""
        import sys
        from pathlib import Path
        from velollm.errors import VelollmError
        from velollm.io.fileops import apply_files
        from velollm.core.files import RenderedFile
        tmp = Path(sys.argv[1])
        try:
            apply_files([RenderedFile(tmp / "etc-like" / "velollm.conf", "new\\n")],
                        tmp / "state", force=True)
        except VelollmError as exc:
            print(exc.message, "|", exc.hint)
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "permission denied" in proc.stdout and "run with sudo" in proc.stdout
    assert (etc / "velollm.conf").read_text() == "original\n"
    assert sorted(p.name for p in etc.iterdir()) == ["velollm.conf"]
    assert not (state / "state.json").exists()


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                                            str(where)], check=False, capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_is_a_clear_error_and_the_original_survives(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "small", "64k") as small:
        target = small / "ollama.env.sh"
        apply_files([RenderedFile(target, "velollm original\n")], tmp_path / "state")
        with pytest.raises(WriteError, match="no space left") as info:
            apply_files([RenderedFile(target, _content("v1"))], tmp_path / "state")
        assert "original is unchanged" in (info.value.hint or "")
        assert target.read_text() == "velollm original\n"
        assert sorted(p.name for p in small.iterdir()) == ["ollama.env.sh"]
        assert drifted(load_state(tmp_path / "state")) == []


def test_read_only_file_system_is_a_clear_error(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "ro", "1m") as ro:
        target = ro / "velollm.conf"
        target.write_text("original\n")
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        with pytest.raises(WriteError, match="read-only file system"):
            apply_files([RenderedFile(target, "new\n")], tmp_path / "state", force=True)
        assert target.read_text() == "original\n"
