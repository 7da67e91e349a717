"""CPU tick counters from a fake /proc tree: /proc/stat, /proc/loadavg, the server's stat and its
children's (from the kernel's children lists), velollm's own."""

from __future__ import annotations

from pathlib import Path

from velollm.io.contention import process_ticks, ticks, tree_ticks


def _proc_stat(pid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0,
               comm: str = "ollama serve") -> str:
    # fields 3..13, then utime stime cutime cstime (14..17), then the rest
    head = " ".join(["S", "1", str(pid), str(pid), "0", "-1", "4194304", "0", "0", "0", "0"])
    return f"{pid} ({comm}) {head} {utime} {stime} {cutime} {cstime} 20 0 12 0 555\n"


def _process(proc: Path, pid: int, stat: str, children: dict[int, list[int]] | None = None
             ) -> None:
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "stat").write_text(stat)
    for tid, kids in (children or {}).items():
        task = proc / str(pid) / "task" / str(tid)
        task.mkdir(parents=True)
        (task / "children").write_text(" ".join(map(str, kids)) + (" " if kids else ""))


def _fake(tmp_path: Path, cpu: str = "cpu  100 5 50 800 20 1 2 30 0 0") -> Path:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "stat").write_text(f"{cpu}\ncpu0 50 2 25 400 10 0 1 15 0 0\nintr 1 2 3\n")
    (proc / "loadavg").write_text("3.25 2.00 1.50 2/345 6789\n")
    _process(proc, 100, _proc_stat(100, 40, 10, cutime=5, cstime=1),
             {100: [], 101: [200]})  # the runner is a child of a thread's task
    _process(proc, 200, _proc_stat(200, 300, 20, comm="ollama runner"), {200: [201]})
    _process(proc, 201, _proc_stat(201, 7, 0, comm="helper"))
    _process(proc, 300, _proc_stat(300, 12, 3, comm="python3"))
    return proc


def test_ticks_from_a_fake_proc(tmp_path: Path) -> None:
    proc = _fake(tmp_path)
    got = ticks(100, proc, own_pid=300)
    assert got is not None
    assert (got.total, got.idle, got.steal) == (1008, 820, 30)  # guest columns not added twice
    assert got.server == 40 + 10 + 5 + 1 + 300 + 20 + 7  # with exited and live children
    assert got.own == 15 and got.load1 == 3.25
    assert process_ticks(200, proc) == 320
    assert tree_ticks(999, proc) is None  # gone: not visible
    unseen = ticks(None, proc, own_pid=300)
    assert unseen is not None and unseen.server is None


def test_old_kernels_and_no_proc(tmp_path: Path) -> None:
    proc = _fake(tmp_path, cpu="cpu  100 5 50 800")  # before iowait, irq, steal
    got = ticks(None, proc, own_pid=404)
    assert got is not None and (got.total, got.idle, got.steal, got.own) == (955, 800, None, None)
    (proc / "loadavg").unlink()
    assert ticks(None, proc, own_pid=300).load1 is None  # type: ignore[union-attr]
    assert ticks(None, tmp_path / "nowhere") is None  # not Linux: no contention figures
    (proc / "stat").write_text("cpu  a b c d\n")
    assert ticks(None, proc) is None
