"""plan --json carries `memory`: per model and device, what the server allocates with the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.core import planner

CONFIG = """\
version: 1
backend: ollama
profile: balanced
target: {kind: shell}
models:
  - name: llama3.1:8b
  - name: llama3.2:1b
"""
KEYS = {"model", "device", "weights_bytes", "kv_bytes", "compute_bytes", "other_bytes",
        "total_bytes"}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json",
                 hwdocs.hardware(gpus=[hwdocs.nvidia("NVIDIA GeForce RTX 4090", 24)]))
    return tmp_path


def test_plan_json_has_memory_per_model_and_device(project: Path, isolated_home: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--json")
    assert code == 0
    memory = json.loads(out)["memory"]
    assert {r["model"] for r in memory} == {"llama3.1:8b", "llama3.2:1b"}
    for row in memory:
        assert set(row) == KEYS and row["device"] in ("cpu", "gpu0")
        parts = ("weights_bytes", "kv_bytes", "compute_bytes", "other_bytes")
        assert row["total_bytes"] == sum(row[k] for k in parts) > 0
    assert any(r["device"] == "gpu0" and r["kv_bytes"] > 0 for r in memory)

    assert cli(capsys, "plan", "--hardware", "hw.json", "--out", "p.json")[0] == 0
    saved = planner.plan_from_dict(json.loads((project / "p.json").read_text()))
    assert list(saved.memory) == memory


def test_a_llamacpp_plan_carries_the_memory_of_what_it_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)
    tiny = tmp_path / "tiny.gguf"
    subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "realrt" /
                                        "make_tiny_gguf.py"), str(tiny)], check=True)
    (tmp_path / "velollm.yaml").write_text(
        f"version: 1\nbackend: llamacpp\nserver:\n  models:\n    - path: {tiny}\n"
        "  parallel: 2\n  context_length: 1024\ntarget: {kind: shell}\n")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(gpus=[]))
    code, out, err = cli(capsys, "plan", "--hardware", "hw.json", "--json")
    assert code == 0, err
    doc = json.loads(out)
    (row,) = doc["memory"]
    assert set(row) == KEYS and row["model"] == "tiny" and row["device"] == "cpu"
    assert row["total_bytes"] == sum(row[k] for k in ("weights_bytes", "kv_bytes",
                                                      "compute_bytes", "other_bytes"))
    # the KV cache of 2 slots x 1024 tokens: 2 layers x 2 (K and V) x 64 dims, of the type the
    # plan writes (f16: 2 bytes; q8_0: 34 bytes per 32 values)
    kv = doc["env"]["LLAMA_ARG_CACHE_TYPE_K"]
    per_value = {"f16": 2.0, "q8_0": 34 / 32}[kv]
    assert row["kv_bytes"] == int(2048 * 2 * 2 * 64 * per_value)
