"""backend: vllm through the CLI, offline (no vLLM runs), in a temporary HOME: plan sizes a model
directory's KV blocks for the GPU, apply writes a user unit that systemd-analyze accepts, the
second plan has nothing to do, a hand edit of the command line is drift, destroy takes it back;
bad keys are FILE:LINE errors; a max_model_len no block budget holds is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli

# SmolLM2-135M-Instruct's config.json, as the converted model directory holds it
SMOL_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
               "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
               "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
               "max_position_embeddings": 8192, "vocab_size": 49152,
               "torch_dtype": "bfloat16", "tie_word_embeddings": True}
CONFIG = """\
version: 1
backend: vllm
profile: balanced
target: {{kind: {kind}}}
server:
  model: {model}
  host: 127.0.0.1
  port: 18123
  max_model_len: auto
  served_model_name: smol
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "smollm2-hf"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(SMOL_CONFIG))
    with (model / "model.safetensors").open("wb") as f:  # its size is what counts
        f.truncate(269_060_552)
    (tmp_path / "velollm.yaml").write_text(CONFIG.format(kind="systemd-unit", model=model))
    hwdocs.write(tmp_path / "hw.json",
                 hwdocs.hardware(gpus=[hwdocs.nvidia("NVIDIA GeForce RTX 4090", 24)]))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no vllm: the version is unknown
    return tmp_path


def unit(home: Path) -> Path:
    return home / ".config" / "systemd" / "user" / "vllm.service"


def test_plan_apply_drift_destroy(project: Path, isolated_home: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode", "--json")
    assert code == 2
    settings = {s["key"]: s for s in json.loads(out)["settings"]}
    assert settings["max_model_len"]["value"] == 8192  # the model's own length fits
    assert "maximum concurrency for 8,192 tokens per request" in \
        settings["max_model_len"]["reason"]
    assert settings["gpu_memory_utilization"]["value"] == 0.9  # balanced leaves 10 %

    code, out, _ = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve", "--json")
    assert code == 0 and json.loads(out)["files"] == [str(unit(isolated_home))]
    text = unit(isolated_home).read_text()
    assert (f"ExecStart=vllm serve {project / 'smollm2-hf'} --gpu-memory-utilization 0.9 "
            "--host 127.0.0.1 --max-model-len 8192 --port 18123 --served-model-name smol"
            ) in text

    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert code == 0 and out.splitlines()[-1].startswith("No changes.")

    unit(isolated_home).write_text(text.replace("--max-model-len 8192", "--max-model-len 2048"))
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert code == 2 and "~ --max-model-len: 2048 -> 8192" in out
    assert "(changed outside velollm)" in out

    code, out, _ = cli(capsys, "destroy", "--auto-approve")
    assert code == 0 and not unit(isolated_home).exists()


def test_cpu_only_machine_gets_eager_mode_and_a_ram_share(project: Path, isolated_home: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    hwdocs.write(project / "cpu.json", hwdocs.hardware(gpus=[], ram_gib=16))
    code, out, _ = cli(capsys, "plan", "--hardware", "cpu.json", "--json")
    assert code == 0
    settings = {s["key"]: s for s in json.loads(out)["settings"]}
    assert settings["enforce_eager"]["value"] is True
    share = settings["gpu_memory_utilization"]["value"]
    assert 0.05 <= share < 0.92 and "of the RAM" in settings["gpu_memory_utilization"]["reason"]


def test_a_pinned_length_no_block_budget_holds_is_refused(project: Path, isolated_home: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    hwdocs.write(project / "small.json",
                 hwdocs.hardware(gpus=[hwdocs.nvidia("NVIDIA GeForce GT 1030", 1)]))
    config = project / "velollm.yaml"
    config.write_text(config.read_text().replace("max_model_len: auto",
                                                 "max_model_len: 2000000\n"
                                                 "  gpu_memory_utilization: 0.9"))
    code, _, err = cli(capsys, "plan", "--hardware", "small.json")
    assert code == 1 and "Traceback" not in err
    assert "server.max_model_len 2000000" in err and "vLLM refuses to start" in err


def test_unknown_keys_and_bad_values_name_file_and_line(project: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    config = project / "velollm.yaml"
    config.write_text(config.read_text() + "  swap_space: 4\n  gpu_memory_utilization: 1.5\n"
                      "  num_ctx: 4096\n  kv_cache_dtype: q8_0\n")
    code, out, err = cli(capsys, "validate")
    assert code == 1 and "4 problem(s)" in err
    assert "velollm.yaml:11: $.server.swap_space: --swap-space is gone" in out
    assert "velollm.yaml:12: $.server.gpu_memory_utilization:" in out
    assert "velollm.yaml:13: $.server.num_ctx: num_ctx is Ollama's" in out
    assert "velollm.yaml:14: $.server.kv_cache_dtype:" in out


def test_compose_target(project: Path, isolated_home: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    config = project / "velollm.yaml"
    config.write_text(config.read_text().replace("kind: systemd-unit", "kind: compose")
                      .replace("  host: 127.0.0.1\n", ""))
    code, out, err = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve", "--json")
    assert code == 0, out + err
    compose = isolated_home / ".config" / "velollm" / "vllm-compose.yaml"
    assert json.loads(out)["files"] == [str(compose)]
    assert '"--max-model-len", "8192"' in compose.read_text()
    code, out, err = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert code == 0, out + err
