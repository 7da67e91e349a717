"""A real vLLM (CPU build, tests/realvllm.py) started from the user unit `velollm apply` wrote:
verify finds every setting effective on the running process and in what the server reports,
the client reads /version, /v1/models and /metrics, and `velollm benchmark` measures concurrent
streams through /v1/completions. One server start for the module; marked heavy (a 3.5 GB venv,
~1 min to start): `pytest -m "not heavy"` leaves it out."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from tests.realserver import free_port
from tests.realvllm import RunningVllm, VllmRuntime, find_runtime, start
from velollm.backends.vllm.client import VllmClient
from velollm.backends.vllm.knobs import settings_argv
from velollm.backends.vllm.targets import exec_words
from velollm.io.systemd import parse_environment

pytestmark = [pytest.mark.heavy, pytest.mark.realserver]

CONFIG = """\
version: 1
backend: vllm
profile: balanced
target: {{kind: systemd-unit}}
server:
  model: {model}
  binary: {python}
  host: 127.0.0.1
  port: {port}
  max_model_len: 1024
  max_num_seqs: 4
  cpu_kvcache_space: 1
  served_model_name: smol
"""


@pytest.fixture(scope="module")
def runtime() -> VllmRuntime:
    found = find_runtime()
    if isinstance(found, str):
        pytest.skip(found)
    return found


def _home(mp: pytest.MonkeyPatch, home: Path) -> None:
    """The HOME whose state the module's apply wrote (each test gets a scratch one otherwise)."""
    mp.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_STATE_HOME", ".local/state"),
                     ("XDG_CACHE_HOME", ".cache"), ("XDG_DATA_HOME", ".local/share")):
        mp.setenv(var, str(home / sub))


@pytest.fixture(scope="module")
def served(runtime: VllmRuntime, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Path, RunningVllm]]:
    """(the project directory, the server started from the applied unit)."""
    project = tmp_path_factory.mktemp("vllm-project")
    home = project / "home"
    port = free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        _home(mp, home)
        mp.setenv("COLUMNS", "400")
        (project / "velollm.yaml").write_text(CONFIG.format(
            model=runtime.model, python=runtime.python, port=port))
        hwdocs.write(project / "hw.json", hwdocs.hardware(gpus=[], ram_gib=16, cores=2))
        assert cli_code("apply", "--hardware", "hw.json", "--auto-approve") == 0
        unit = (home / ".config/systemd/user/vllm.service").read_text()
        [exec_start] = [line[len("ExecStart="):] for line in unit.splitlines()
                        if line.startswith("ExecStart=")]
        server = start(exec_words(exec_start), parse_environment(unit),
                       f"http://127.0.0.1:{port}", project)
        try:
            yield project, server
        finally:
            server.stop()


def cli_code(*argv: str) -> int:
    from velollm.main import main

    return main(list(argv))


def test_verify_finds_every_setting_effective(served: tuple[Path, RunningVllm],
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    project, server = served
    monkeypatch.chdir(project)
    _home(monkeypatch, project / "home")
    code, out, err = cli(capsys, "verify", "--skip-benchmark", "--json", "--host",
                         server.base_url)
    doc = json.loads(out)
    assert code == 0, (out, err)
    effects = {e["env"]: e for e in doc["settings"]}
    assert effects["--max-model-len"]["status"] == "effective"
    assert effects["VLLM_CPU_KVCACHE_SPACE"]["observed"] == "1"
    assert all(e["status"] == "effective" for e in doc["settings"]), doc["settings"]
    assert doc["server"]["pid"] == server.pid


def test_client_reads_what_the_server_reports(served: tuple[Path, RunningVllm]) -> None:
    _, server = served
    client = VllmClient(server.base_url)
    try:
        assert client.version().startswith("0.32.0")
        [model] = client.ps()
        assert (model.name, model.context_length) == ("smol", 1024)
        names = {s.name for s in client.metrics()}
        assert {"vllm:cache_config_info", "vllm:num_requests_running",
                "vllm:kv_cache_usage_perc"} <= names
        info = next(s.labels for s in client.metrics() if s.name == "vllm:cache_config_info")
        # 1 GiB of KV cache in blocks of 128 tokens x 23,040 bytes (SmolLM2, bfloat16)
        assert int(info["num_gpu_blocks"]) == (1 << 30) // (23_040 * 128)
    finally:
        client.close()
    assert "Maximum concurrency for 1,024 tokens per request" in server.log()


def test_benchmark_streams_concurrent_completions(served: tuple[Path, RunningVllm],
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project, server = served
    monkeypatch.chdir(project)
    code, out, err = cli(capsys, "benchmark", "--backend", "vllm", "--host", server.base_url,
                         "--model", "smol", "--suite", "concurrent", "--iterations", "1",
                         "--concurrency", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    [scenario] = doc["benchmarks"]
    samples = [s for s in scenario["samples"] if not s["warmup"]]
    assert len(samples) == 2 and all(s["ok"] for s in samples), samples
    # the chat template applied (as Ollama does): a real answer, timed from the stream
    assert all(s["eval_count"] > 1 and s["decode_source"] == "client" and s["decode_tps"] > 0
               for s in samples), samples


def test_vllms_own_parser_reads_the_rendered_command(runtime: VllmRuntime) -> None:
    """Every argument velollm can write, parsed by vLLM's own FlexibleArgumentParser."""
    argv = ["--model", "/m", *settings_argv({
        "--max-model-len": "32K", "--gpu-memory-utilization": "0.5", "--enforce-eager": "true",
        "--enable-prefix-caching": "false", "--enable-chunked-prefill": "true",
        "--served-model-name": "a b", "--kv-cache-dtype": "fp8", "--dtype": "bfloat16",
        "--speculative-config": '{"method":"ngram","num_speculative_tokens":4}',
        "--tensor-parallel-size": "1", "--pipeline-parallel-size": "1", "--port": "8001",
        "--host": "127.0.0.1", "--max-num-seqs": "8", "--max-num-batched-tokens": "4k",
        "--cpu-offload-gb": "0", "--block-size": "128", "--kv-cache-memory-bytes": "1G",
        "--quantization": "fp8", "--trust-remote-code": "false", "--data-parallel-size": "1"})]
    script = ("import json, sys\n"
              "from vllm.entrypoints.launchers.cli_args import make_arg_parser\n"
              "from vllm.utils.argparse_utils import FlexibleArgumentParser\n"
              "ns = make_arg_parser(FlexibleArgumentParser()).parse_args(sys.argv[1:])\n"
              "print(json.dumps({k: v for k, v in vars(ns).items()}, default=str))\n")
    done = subprocess.run([str(runtime.python), "-c", script, *argv], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    ns = json.loads(done.stdout.splitlines()[-1])
    assert ns["max_model_len"] == 32768 and ns["max_num_batched_tokens"] == 4000
    assert ns["kv_cache_memory_bytes"] == 1 << 30
    assert ns["enable_prefix_caching"] is False and ns["enforce_eager"] is True
    assert ns["served_model_name"] == ["a", "b"] and ns["gpu_memory_utilization"] == 0.5
    refused = subprocess.run([str(runtime.python), "-c", script, "--swap-space", "4"],
                             capture_output=True, text=True, timeout=300, check=False)
    assert refused.returncode != 0 and "swap-space" in refused.stderr
