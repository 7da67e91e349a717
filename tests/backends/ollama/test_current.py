from __future__ import annotations

from pathlib import Path

from velollm.backends.ollama import current


def _fake_proc(root: Path, pid: int, argv: list[str], env: dict[str, str] | None) -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    if env is not None:
        (d / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in env.items()))


def test_sources_in_priority_order(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    _fake_proc(proc, 42, ["/usr/local/bin/ollama", "serve"],
               {"OLLAMA_NUM_PARALLEL": "2", "PATH": "/bin"})
    _fake_proc(proc, 7, ["/usr/bin/python3", "x.py"], {"OLLAMA_NUM_PARALLEL": "9"})
    unit_dir = tmp_path / "etc"
    (unit_dir / "ollama.service.d").mkdir(parents=True)
    (unit_dir / "ollama.service.d" / "10-a.conf").write_text(
        '[Service]\nEnvironment="OLLAMA_NUM_PARALLEL=3"\nEnvironment="OLLAMA_KEEP_ALIVE=1h"\n')
    (unit_dir / "ollama.service.d" / "20-b.conf").write_text(
        '[Service]\nEnvironment="OLLAMA_KEEP_ALIVE=2h"\n')
    state = current.read_current(known_names=[], environ={"OLLAMA_FLASH_ATTENTION": "1"},
                                 proc=proc, systemd_dirs=[unit_dir], platform="linux")
    assert state.process is not None and state.process.pid == 42
    eff = state.effective()
    assert eff["OLLAMA_NUM_PARALLEL"].value == "2"
    assert eff["OLLAMA_NUM_PARALLEL"].source == "running server (pid 42)"
    assert eff["OLLAMA_KEEP_ALIVE"].value == "2h"  # the later drop-in wins, as in systemd
    assert "20-b.conf" in eff["OLLAMA_KEEP_ALIVE"].source
    assert eff["OLLAMA_FLASH_ATTENTION"].source == "shell environment"
    assert "PATH" not in eff


def test_unreadable_environ_is_reported_not_fatal(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    _fake_proc(proc, 5, ["ollama", "serve"], None)
    state = current.read_current(known_names=[], environ={}, proc=proc, systemd_dirs=[],
                                 platform="linux")
    assert state.process is not None and state.process.environ is None
    assert state.to_dict()["process"] == {"pid": 5, "cmdline": ["ollama", "serve"],
                                          "environ_readable": False}
