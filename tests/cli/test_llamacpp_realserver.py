"""The llama.cpp backend end to end through the CLI against a real llama-server (issue 11):
plan reads the running server, apply writes the shell file, a llama-server restarted from that
file has every setting and verify says so (the one started without it: not effective); the
benchmark's decode rate agrees with the server's /metrics counters, llama-bench measures the
applied settings; a server that is down, still loading (503) or killed mid-stream is one clear
error line and exit 1."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.cli.cliutil import cli
from tests.realllama import LlamaServer, LlamaServerFactory, free_port, get
from velollm.backends.llamacpp.effects import same

pytestmark = pytest.mark.realserver

WANTED = {"LLAMA_ARG_CTX_SIZE": "2048", "LLAMA_ARG_N_PARALLEL": "2",
          "LLAMA_ARG_FLASH_ATTN": "on", "LLAMA_ARG_CACHE_TYPE_K": "q8_0",
          "LLAMA_ARG_CACHE_TYPE_V": "q8_0", "LLAMA_ARG_THREADS": "1"}


def _config(server: LlamaServer, binary: Path) -> str:
    return f"""\
version: 1
backend: llamacpp
target: {{kind: shell}}
server:
  binary: {binary}
  host: 127.0.0.1:{server.port}
  models:
    - path: {server.model}
  context_length: 1024
  parallel: 2
  flash_attention: "on"
  kv_cache_type: q8_0
  threads: 1
  metrics: true
"""


def _one_error(err: str) -> str:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_plan_apply_restart_verify_benchmark(llama_server: LlamaServerFactory, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # running before velollm wrote anything, with its own slots and a context flag
    before = llama_server({"LLAMA_ARG_N_PARALLEL": "3"}, args=["-c", "3072"])
    runtime = llama_server.runtime
    (tmp_path / "velollm.yaml").write_text(_config(before, runtime.server))

    code, out, err = cli(capsys, "plan", "--host", before.base_url, "--json")
    assert code == 0, err
    plan = json.loads(out)
    for env, value in WANTED.items():  # CTX_SIZE: 1024 per slot x 2 slots
        assert same(env, value, plan["env"][env]), (env, plan["env"])
    observed = {o["env"]: (o["value"], o["source"]) for o in plan["observed"]}
    running = f"running server (pid {before.pid})"
    assert observed["LLAMA_ARG_N_PARALLEL"] == ("3", f"{running} environment")
    assert observed["LLAMA_ARG_CTX_SIZE"] == ("3072", f"{running} command line")
    assert any("LLAMA_ARG_CTX_SIZE=3072" in w and "wins" in w for w in plan["warnings"])

    code, out, err = cli(capsys, "apply", "--host", before.base_url, "--auto-approve", "--json")
    assert code == 0, err
    [env_file] = [Path(f) for f in json.loads(out)["files"] if f.endswith(".sh")]
    assert "LLAMA_ARG_CTX_SIZE=" in env_file.read_text()

    # the server that was running without the file: nothing wanted is in force but -t 1
    code, out, _ = cli(capsys, "verify", "--host", before.base_url, "--log",
                       str(before.log_path), "--skip-benchmark", "--json")
    stale = {s["env"]: s for s in json.loads(out)["settings"]}
    assert code == 4
    assert stale["LLAMA_ARG_N_PARALLEL"]["status"] == "not effective"
    assert "restart" in stale["LLAMA_ARG_N_PARALLEL"]["why"]
    assert "drop the flag" in stale["LLAMA_ARG_CTX_SIZE"]["why"]
    assert stale["LLAMA_ARG_THREADS"]["status"] == "effective"  # -t 1 is every test server's

    llama_server.stop(before)  # restarted the way the file says: sourced, then llama-server
    after = llama_server({"LLAMA_ARG_LOG_VERBOSITY": "4"}, source=env_file, port=before.port)
    code, out, err = cli(capsys, "verify", "--host", after.base_url, "--log",
                         str(after.log_path), "--skip-benchmark", "--json")
    doc = json.loads(out)
    settings = {s["env"]: s for s in doc["settings"]}
    for env in WANTED:
        assert settings[env]["status"] == "effective", settings[env]
    assert code == 0, (doc, err)
    assert doc["server"]["pid"] == after.pid

    code, out, err = cli(capsys, "benchmark", "--backend", "llamacpp", "--host", after.base_url,
                         "--suite", "short_completion", "--iterations", "1", "--json")
    assert code == 0, err
    bench = json.loads(out)
    check = bench["server_counters"]
    assert check["agree"] is True, check
    assert check["decode_tps"]["streams"] == pytest.approx(check["decode_tps"]["metrics"],
                                                           rel=0.02)
    samples = [s for b in bench["benchmarks"] for s in b["samples"] if s["ok"]]
    assert check["tokens_predicted"]["metrics"] == sum(s["eval_count"] for s in samples)

    monkeypatch.setenv("PATH", f"{runtime.bin_dir}:{Path('/usr/bin')}:{Path('/bin')}")
    code, out, err = cli(capsys, "benchmark", "--backend", "llamacpp", "--engine", "llama-bench",
                         "--model", str(after.model), "--suite", "short_completion",
                         "--iterations", "1", "--json")
    assert code == 0, err
    engine = json.loads(out)
    argv = engine["settings"]["llama_bench"]["argv"]
    assert engine["engine"] == "llama-bench"
    assert argv[argv.index("-ctv") + 1] == "q8_0" and argv[argv.index("-t") + 1] == "1"


def test_down_loading_and_killed_are_one_clear_error(llama_server: LlamaServerFactory,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    code, _, err = cli(capsys, "benchmark", "--backend", "llamacpp", "--host", down)
    assert code == 1 and "not reachable" in _one_error(err)

    for _attempt in range(5):  # catch it in its loading window (~0.3 s here)
        loading = llama_server(wait=False)
        status = 0
        deadline = time.monotonic() + 30
        while status not in (200, 503) and time.monotonic() < deadline:
            try:
                status = get(f"{loading.base_url}/health")[0]
            except OSError:
                time.sleep(0.005)
        if status == 503:
            code, _, err = cli(capsys, "benchmark", "--backend", "llamacpp", "--host",
                               loading.base_url)
            if code == 1 and "still loading" in err:
                _one_error(err)
                break
        llama_server.stop(loading)
    else:
        pytest.fail("never caught llama-server loading its model in five starts")

    server = llama_server()

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                slots = json.loads(get(f"{server.base_url}/slots")[1])
            except (OSError, ValueError):
                slots = []
            if any(s.get("is_processing") for s in slots):
                llama_server.stop(server, signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    code, _, err = cli(capsys, "benchmark", "--backend", "llamacpp", "--host", server.base_url,
                       "--suite", "medium_completion", "--iterations", "1")
    killer.join()
    # the benchmark stops at the fault, with what it measured (killed between two requests,
    # which 128 tokens at -t 1 make unlikely, the next finds nobody there)
    line = _one_error(err)
    assert code == 1 and ("cut before the end" in line or "not reachable" in line), line
