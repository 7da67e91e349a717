"""verify.verify against real llama-servers: started from velollm's shell file (every setting
effective, seen in argv/env and confirmed by /props and the -lv 4 log), started without it (not
effective, and why), and with a command-line flag that beats the file's variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends.llamacpp.test_current import FLAG_ENV
from tests.realllama import LlamaServerFactory
from velollm.backends.base import ServerProcess
from velollm.backends.llamacpp import verify
from velollm.backends.llamacpp.client import LlamaServerClient
from velollm.io.state import FileRecord, State

pytestmark = pytest.mark.realserver

WANTED = {
    "LLAMA_ARG_CTX_SIZE": "2048",  # 1024 per slot x 2 slots
    "LLAMA_ARG_N_PARALLEL": "2",
    "LLAMA_ARG_FLASH_ATTN": "on",
    "LLAMA_ARG_CACHE_TYPE_K": "q8_0",
    "LLAMA_ARG_CACHE_TYPE_V": "q8_0",
    "LLAMA_ARG_BATCH": "256",
    "LLAMA_ARG_UBATCH": "128",
    "LLAMA_ARG_THREADS": "1",
    "LLAMA_ARG_ENDPOINT_METRICS": "1",
    "LLAMA_ARG_FIT": "off",
}


def _shell_file(tmp_path: Path, settings: dict[str, str]) -> Path:
    path = tmp_path / "llama.env.sh"
    path.write_text("".join(f"export {k}={v}\n" for k, v in settings.items()), encoding="utf-8")
    return path


def _run(server_url: str, log: Path, state: State,
         wanted: dict[str, str] = WANTED) -> dict[str, tuple[str, str | None, str]]:
    client = LlamaServerClient(server_url)
    try:
        found = verify.verify(state, wanted, "shell", client, client.version(), log_path=log,
                              flag_env=FLAG_ENV, retired=("LLAMA_ARG_N_GPU_LAYERS",))
    finally:
        client.close()
    return {e.env: (e.status, e.observed, e.why) for e in found.effects}


def test_started_from_the_file_every_setting_is_effective(
        llama_server: LlamaServerFactory, tmp_path: Path) -> None:
    file = _shell_file(tmp_path, {**WANTED, "LLAMA_ARG_LOG_VERBOSITY": "4"})
    state = State(files=(FileRecord(str(file), "0" * 64, "shell"),))
    server = llama_server(source=file)
    effects = _run(server.base_url, server.log_path, state)
    assert {env: s for env, (s, _o, _w) in effects.items()} == dict.fromkeys(WANTED, "effective")
    assert "/props: 2 slot(s) of 1024 tokens" in effects["LLAMA_ARG_CTX_SIZE"][2]
    assert "its log" in effects["LLAMA_ARG_CACHE_TYPE_V"][2]
    assert "/metrics" in effects["LLAMA_ARG_ENDPOINT_METRICS"][2]


def test_started_without_the_file_nothing_is_effective(
        llama_server: LlamaServerFactory, tmp_path: Path) -> None:
    file = _shell_file(tmp_path, WANTED)
    state = State(files=(FileRecord(str(file), "0" * 64, "shell"),))
    server = llama_server({"LLAMA_ARG_LOG_VERBOSITY": "4", "LLAMA_ARG_N_GPU_LAYERS": "0"})
    effects = _run(server.base_url, server.log_path, state)
    not_in_force = {env for env, (s, _o, _w) in effects.items() if s == "not effective"}
    # -t 1 is every test server's own; the others are not the file's values
    assert not_in_force == set(WANTED) - {"LLAMA_ARG_THREADS"} | {"LLAMA_ARG_N_GPU_LAYERS"}
    _status, observed, why = effects["LLAMA_ARG_N_PARALLEL"]
    assert observed == "4"  # what it runs with: -np auto gives 4 slots here (/props)
    assert "not started with it" in why and str(file) in why and "/props" in why
    assert "no longer sets LLAMA_ARG_N_GPU_LAYERS" in effects["LLAMA_ARG_N_GPU_LAYERS"][2]


def test_a_command_line_flag_beats_the_file(
        llama_server: LlamaServerFactory, tmp_path: Path) -> None:
    wanted = {"LLAMA_ARG_CTX_SIZE": "2048", "LLAMA_ARG_N_PARALLEL": "2"}
    file = _shell_file(tmp_path, wanted)
    state = State(files=(FileRecord(str(file), "0" * 64, "shell"),))
    server = llama_server(source=file, args=["-c", "1024"])
    effects = _run(server.base_url, server.log_path, state, wanted)
    status, observed, why = effects["LLAMA_ARG_CTX_SIZE"]
    assert (status, observed) == ("not effective", "1024")
    assert "command line" in why and "drop the flag" in why
    assert effects["LLAMA_ARG_N_PARALLEL"][0] == "effective"


def test_another_servers_log_is_not_used(llama_server: LlamaServerFactory,
                                         tmp_path: Path) -> None:
    a = llama_server()
    b = llama_server()
    client = LlamaServerClient(a.base_url)
    found = verify.verify(State(), {"LLAMA_ARG_FLASH_ATTN": "on"}, "shell", client, None,
                          log_path=b.log_path, flag_env=FLAG_ENV)
    client.close()
    assert any("not of" in n for n in found.notes)
    assert found.server["log"] is None and found.server["pid"] == a.pid


def test_the_servers_own_log_file_is_found(llama_server: LlamaServerFactory,
                                           tmp_path: Path) -> None:
    """Started with LLAMA_ARG_LOG_FILE: verify reads that log without --log, and -fitt beyond
    the machine's memory makes fit halve the context, which verify notes."""
    log = tmp_path / "own.log"
    server = llama_server({"LLAMA_ARG_LOG_FILE": str(log), "LLAMA_ARG_LOG_VERBOSITY": "4",
                           "LLAMA_ARG_FLASH_ATTN": "on", "LLAMA_ARG_FIT_TARGET": "99999999"})
    client = LlamaServerClient(server.base_url)
    found = verify.verify(State(), {"LLAMA_ARG_FLASH_ATTN": "on"}, "shell", client, None,
                          log_path=None, flag_env=FLAG_ENV)
    client.close()
    (effect,) = found.effects
    assert effect.status == "effective" and "its log" in effect.why, effect
    assert found.server["log"] == str(log)
    assert any("fit reduced the context" in n for n in found.notes), found.notes


def test_a_relative_log_file_is_the_servers_working_directory(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "5").mkdir(parents=True)
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "x.log").write_text("llama_server: initializing\n")
    (proc / "5" / "cwd").symlink_to(tmp_path / "srv")
    p = ServerProcess(5, ("/usr/bin/llama-server", "--log-file", "x.log"), {})
    assert verify.own_log_file(p, proc) == tmp_path / "srv" / "x.log"
    assert verify.own_log_file(ServerProcess(5, ("llama-server",), {}), proc) is None
