"""`velollm tune` on Ollama through the CLI on a tiny space, against real `ollama serve`s it
starts itself (Ollama 0.5.4 on the CPU, the tiny model, 8 tokens an answer): candidates measured
or pruned with Ollama's reason, the search's best compared side by side with Ollama's defaults
and velollm's rule-based choice, the best of that written as pins (the model parameters under
models:) that `velollm validate` accepts, and the model store left as it was. No timing
asserted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.cliutil import cli
from tests.realserver import Runtime, ServerFactory


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.realserver
def test_tune_on_ollama_measures_prunes_compares_and_pins(
        ollama_server: ServerFactory, ollama_runtime: Runtime, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    store = ollama_server().models_dir  # `ollama create tiny` into a store of the test's own
    ollama_server.stop_all()
    before = _files(store)
    monkeypatch.setenv("OLLAMA_MODELS", str(store))
    for name, value in ollama_runtime.env.items():  # the provisioned build's libraries
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "3")  # the user's own setting: not a candidate's
    config = tmp_path / "velollm.yaml"
    config.write_text("""\
version: 1
backend: ollama
server:
  keep_alive: 5m
models:
  - name: tiny
workload:
  concurrency: 2
  prompt_tokens: 24
  output_tokens: 8
  budget: 10m
""")
    code, out, err = cli(capsys, "--json", "tune", "--config", str(config), "--binary",
                         str(ollama_runtime.binary), "--trials", "2", "--rounds", "1",
                         "--confirm-rounds", "1", "--write")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["server"]["model"] == "tiny" and doc["server"]["build"].startswith("Ollama ")
    assert doc["space"]["num_parallel"] == [1, 2]
    measured = [t for t in doc["trials"] if t["scores"]]
    assert 1 <= len(measured) <= 2
    assert all(t["pruned"] and not t["scores"] for t in doc["trials"] if t not in measured)
    if doc["server"]["build"] == "Ollama 0.5.4":  # on the CPU it ignores both: never run
        assert all(t["settings"]["flash_attention"] is False and
                   t["settings"]["kv_cache_type"] == "f16" for t in measured)
    assert set(doc["comparison"]) == {"winner", "defaults", "rule-based"}
    assert doc["comparison"]["defaults"]["settings"] == {}
    assert all(c["scores"] for c in doc["comparison"].values())
    assert doc["winner"] == doc["confirmation"][doc["winner_from"]]["settings"]
    assert doc["comparison"]["rule-based"]["settings"]["num_parallel"] == 2  # the concurrency
    assert "num_parallel" in doc["pins"]
    assert set(doc["pins"]) <= {"num_parallel", "flash_attention", "kv_cache_type"}
    params = doc["model_pins"]["tiny"]
    assert params and set(params) <= {"num_batch", "num_thread"}
    assert doc["written"]["file"] == str(config)
    # the roofline from the weights' size Ollama reported (the tiny model: 533 KB)
    assert doc["roofline"]["weights_bytes"] == int(doc["server"]["model_bytes"]) > 500_000
    code, _out, err = cli(capsys, "validate", str(config))
    assert code == 0, err
    text = config.read_text()
    assert f"num_parallel: {doc['winner']['num_parallel']}" in text
    assert "".join(f"    {k}: {v}\n" for k, v in params.items()) in text  # under - name: tiny
    assert _files(store) == before  # the user's store is only read
    assert os.environ["OLLAMA_NUM_PARALLEL"] == "3"


def test_tune_on_ollama_without_a_model_says_what_to_give(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = cli(capsys, "tune", "--backend", "ollama", "--binary", "/bin/true")
    assert code == 2
    assert "no model to tune" in err and "--model" in err
