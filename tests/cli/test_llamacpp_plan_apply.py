"""backend: llamacpp through the CLI, offline (no llama-server runs), in a temporary HOME: plan
sizes a real GGUF file's model for the GPU, apply writes the shell file that bash reads, the
second plan has nothing to do, a hand edit is drift, destroy takes it back; bad keys are FILE:LINE
errors. The real-server flow is in the tests next to tests/realllama.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
version: 1
backend: llamacpp
profile: balanced
target: {{kind: shell}}
server:
  host: 127.0.0.1:{port}
  models:
    - path: {model}
      alias: tiny
  context_length: auto
  kv_cache_type: q8_0
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "tiny.gguf"
    subprocess.run([sys.executable, str(ROOT / "tests/realrt/make_tiny_gguf.py"), str(model)],
                   check=True, timeout=120, capture_output=True)
    (tmp_path / "velollm.yaml").write_text(CONFIG.format(port=18099, model=model))
    hwdocs.write(tmp_path / "hw.json",
                 hwdocs.hardware(gpus=[hwdocs.nvidia("NVIDIA GeForce RTX 4090", 24)]))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no llama-server: the build is unknown
    return tmp_path


def env_file(home: Path) -> Path:
    return home / ".config" / "velollm" / "llamacpp.env.sh"


def sourced(path: Path) -> dict[str, str]:
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c",
         f'. "{path}" && python3 -c "import os,json;print(json.dumps(dict(os.environ)))"'],
        capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]})
    return {k: v for k, v in json.loads(proc.stdout).items() if k.startswith("LLAMA_ARG_")}


def test_plan_apply_drift_destroy(project: Path, isolated_home: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode", "--json")
    assert code == 2
    plan = json.loads(out)
    settings = {s["key"]: s for s in plan["settings"]}
    assert settings["gpu_layers"]["value"] == "all"  # the tiny model fits a 24 GiB GPU
    slots, ctx = settings["parallel"]["value"], settings["ctx_size"]["value"]
    assert ctx % slots == 0 and "per slot" in settings["context_length"]["reason"]

    code, out, _ = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve", "--json")
    assert code == 0 and json.loads(out)["files"] == [str(env_file(isolated_home))]
    env = sourced(env_file(isolated_home))
    assert env["LLAMA_ARG_CACHE_TYPE_K"] == env["LLAMA_ARG_CACHE_TYPE_V"] == "q8_0"
    assert env["LLAMA_ARG_FLASH_ATTN"] == "on"  # the quantized V cache needs it
    assert env["LLAMA_ARG_PORT"] == "18099" and env["LLAMA_ARG_HOST"] == "127.0.0.1"
    assert env["LLAMA_ARG_MODEL"] == str(project / "tiny.gguf")
    assert int(env["LLAMA_ARG_CTX_SIZE"]) == ctx and env["LLAMA_ARG_N_PARALLEL"] == str(slots)

    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert code == 0 and out.splitlines()[-1].startswith("No changes.")

    path = env_file(isolated_home)
    path.write_text(path.read_text().replace("'q8_0'", "'f16'", 1))
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert code == 2 and "~ LLAMA_ARG_CACHE_TYPE_K: f16 -> q8_0" in out
    assert "(changed outside velollm)" in out

    code, out, _ = cli(capsys, "destroy", "--auto-approve")
    assert code == 0 and not path.exists()


def test_pins_win_and_removed_variables_are_unset(project: Path, isolated_home: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = project / "velollm.yaml"
    config.write_text(config.read_text().replace("context_length: auto",
                                                 "context_length: 1000\n  parallel: 3"))
    code, _, _ = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve", "--json")
    assert code == 0
    text = env_file(isolated_home).read_text()
    env = sourced(env_file(isolated_home))
    assert env["LLAMA_ARG_N_PARALLEL"] == "3" and env["LLAMA_ARG_CTX_SIZE"] == "3000"
    assert "unset -v LLAMA_ARG_DRAFT_MAX" in text  # a stale one stops build 11669's start


def test_unknown_keys_and_bad_values_name_file_and_line(project: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    config = project / "velollm.yaml"
    config.write_text(config.read_text() + "  num_parallel: 4\n  continuous_batching: yes"
                      "please\n  mmap: false\n")
    code, out, err = cli(capsys, "validate")
    assert code == 1 and "3 problem(s)" in err
    assert "velollm.yaml:12: $.server.num_parallel: write parallel" in out
    assert "velollm.yaml:13: $.server.continuous_batching:" in out and "boolean" in out
    assert "velollm.yaml:14: $.server.mmap:" in out and "load_mode" in out


def test_missing_model_file_is_a_note_not_a_crash(project: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (project / "tiny.gguf").unlink()
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--json")
    assert code == 0
    assert any("not found" in n for n in json.loads(out)["notes"])
