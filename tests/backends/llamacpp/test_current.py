"""current.py: which llama-server serves host:port, and what it runs with (argv over env)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.realllama import LlamaServerFactory
from velollm.backends.base import ServerProcess
from velollm.backends.llamacpp import current

# The flag -> variable map comes from the knob catalogue (knobs.FLAG_ENV); a few of its entries,
# as `llama-server --help` of build 11669 prints them, are enough here.
FLAG_ENV = {
    "-c": "LLAMA_ARG_CTX_SIZE", "--ctx-size": "LLAMA_ARG_CTX_SIZE",
    "-np": "LLAMA_ARG_N_PARALLEL", "--parallel": "LLAMA_ARG_N_PARALLEL",
    "-t": "LLAMA_ARG_THREADS", "--threads": "LLAMA_ARG_THREADS",
    "-fa": "LLAMA_ARG_FLASH_ATTN", "--flash-attn": "LLAMA_ARG_FLASH_ATTN",
    "-ctk": "LLAMA_ARG_CACHE_TYPE_K", "--cache-type-k": "LLAMA_ARG_CACHE_TYPE_K",
    "-ctv": "LLAMA_ARG_CACHE_TYPE_V", "--cache-type-v": "LLAMA_ARG_CACHE_TYPE_V",
    "--metrics": "LLAMA_ARG_ENDPOINT_METRICS",
    "--slots": "LLAMA_ARG_ENDPOINT_SLOTS", "--no-slots": "LLAMA_ARG_ENDPOINT_SLOTS",
    "-cb": "LLAMA_ARG_CONT_BATCHING", "-nocb": "LLAMA_ARG_CONT_BATCHING",
    "--no-cont-batching": "LLAMA_ARG_CONT_BATCHING",
    "-nkvo": "LLAMA_ARG_NO_KV_OFFLOAD", "--no-kv-offload": "LLAMA_ARG_NO_KV_OFFLOAD",
    "-ngl": "LLAMA_ARG_N_GPU_LAYERS", "-m": "LLAMA_ARG_MODEL", "--port": "LLAMA_ARG_PORT",
}

DEBIAN = ("/opt/llama/root/usr/lib64/ld-linux-x86-64.so.2", "--library-path",
          "/opt/llama/lib:/opt/llama/lib/llama", "/opt/llama/root/usr/bin/llama-server")


@pytest.mark.parametrize(("cmdline", "args"), [
    (("/usr/bin/llama-server", "-c", "8"), ("-c", "8")),
    ((*DEBIAN, "-c", "8"), ("-c", "8")),
    (("llama-server",), ()),
    (("/usr/bin/python3", "llama-server"), None),  # a script named after it is not it
    (("/lib64/ld-linux-x86-64.so.2", "--library-path", "/x", "/usr/bin/ollama"), None),
    ((), None),
])
def test_program_args(cmdline: tuple[str, ...], args: tuple[str, ...] | None) -> None:
    assert current.program_args(cmdline) == args


def test_parse_args_values_switches_and_last_wins() -> None:
    args = ["-m", "/m.gguf", "-c", "4096", "--ctx-size", "8192", "-fa", "on", "--metrics",
            "--no-slots", "-nocb", "-nkvo", "-ngl", "-1", "--alias", "x", "--port=8081",
            "--unknown", "-t"]
    assert current.parse_args(args, FLAG_ENV) == {
        "LLAMA_ARG_MODEL": "/m.gguf", "LLAMA_ARG_CTX_SIZE": "8192", "LLAMA_ARG_FLASH_ATTN": "on",
        "LLAMA_ARG_ENDPOINT_METRICS": "true", "LLAMA_ARG_ENDPOINT_SLOTS": "false",
        "LLAMA_ARG_CONT_BATCHING": "false", "LLAMA_ARG_NO_KV_OFFLOAD": "true",
        "LLAMA_ARG_N_GPU_LAYERS": "-1", "LLAMA_ARG_PORT": "8081", "LLAMA_ARG_THREADS": "true"}


def test_command_line_wins_over_environment() -> None:
    p = ServerProcess(7, (*DEBIAN, "-c", "4096", "-np", "2"),
                      {"LLAMA_ARG_CTX_SIZE": "1024", "LLAMA_ARG_FLASH_ATTN": "off", "PATH": "/b"})
    found = current.settings_of(p, FLAG_ENV)
    assert found["LLAMA_ARG_CTX_SIZE"].value == "4096"
    assert found["LLAMA_ARG_CTX_SIZE"].source == "running server (pid 7) command line"
    assert found["LLAMA_ARG_FLASH_ATTN"].value == "off"
    assert found["LLAMA_ARG_FLASH_ATTN"].source == "running server (pid 7) environment"
    assert "PATH" not in found


def test_split_url() -> None:
    assert current.split_url("http://127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert current.split_url("http://[::1]:9/x") == ("::1", 9)
    assert current.split_url("http://localhost") == ("localhost", None)


def _fake_proc(root: Path, pid: int, argv: tuple[str, ...], env: dict[str, str]) -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (d / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in env.items()))


def test_unreadable_descriptors_fall_back_to_the_declared_port(tmp_path: Path) -> None:
    """Another user's llama-server: its fds cannot be read, its --port / LLAMA_ARG_PORT can."""
    proc = tmp_path / "proc"
    _fake_proc(proc, 10, ("/usr/bin/llama-server", "--port", "8081"), {})
    _fake_proc(proc, 11, ("/usr/bin/llama-server",), {"LLAMA_ARG_PORT": "8082"})
    _fake_proc(proc, 12, ("/usr/bin/python3", "x"), {"LLAMA_ARG_PORT": "8082"})
    (proc / "net").mkdir()
    (proc / "net" / "tcp").write_text("header\n")
    found = current.find_server("http://127.0.0.1:8082", proc)
    assert found is not None and found.pid == 11
    assert current.find_server("http://127.0.0.1:9999", proc) is None


@pytest.mark.realserver
def test_finds_the_real_server_by_its_socket(llama_server: LlamaServerFactory,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Two servers; each URL leads to its own process, settings from argv and env."""
    monkeypatch.delenv("LLAMA_ARG_CTX_SIZE", raising=False)
    a = llama_server({"LLAMA_ARG_CTX_SIZE": "1024", "LLAMA_ARG_FLASH_ATTN": "off"},
                     args=["-c", "2048", "-np", "2"])
    b = llama_server({"LLAMA_ARG_N_PARALLEL": "1"})
    assert current.server_pid(a.base_url) == a.pid
    assert current.server_pid(b.base_url) == b.pid
    found = current.settings_now(a.base_url, FLAG_ENV, environ={})
    assert found["LLAMA_ARG_CTX_SIZE"].value == "2048"  # the command line wins
    assert found["LLAMA_ARG_FLASH_ATTN"].value == "off"
    assert found["LLAMA_ARG_N_PARALLEL"].value == "2"
    assert found["LLAMA_ARG_THREADS"].value == "1"
    assert found["LLAMA_ARG_PORT"].value == str(a.port)
    assert current.settings_now(b.base_url, FLAG_ENV, environ={})[
        "LLAMA_ARG_N_PARALLEL"].value == "1"
    version = current.server_version(a.base_url)
    assert version is not None and version.startswith("b") and version[1:].isdigit()
    llama_server.stop(a)
    assert current.server_pid(a.base_url) is None
    assert current.server_version(a.base_url) is None
