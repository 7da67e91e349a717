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
