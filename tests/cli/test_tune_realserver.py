"""`velollm tune` through the CLI on a tiny space, against real llama-servers it starts itself
(SmolLM2-135M, -t 1 and 2, a few tokens): candidates measured or pruned with a reason, the
search's best compared side by side with the server's defaults and velollm's rule-based choice,
the best of that comparison the winner, written into velollm.yaml as pins that `velollm
validate` accepts. No timing asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.cliutil import cli
from tests.realllama import LlamaRuntime

pytestmark = pytest.mark.realserver


def test_tune_measures_prunes_compares_and_pins(llama_runtime: LlamaRuntime, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "velollm.yaml"
    config.write_text(f"""\
version: 1
backend: llamacpp
server:
  binary: {llama_runtime.server}
  models:
    - path: {llama_runtime.model}
workload:
  concurrency: 1
  prompt_tokens: 24
  output_tokens: 8
  budget: 10m
""")
    code, out, err = cli(capsys, "--json", "tune", "--config", str(config), "--trials", "2",
                         "--rounds", "1", "--confirm-rounds", "1", "--write")
    assert code == 0, err
    doc = json.loads(out)
    measured = [t for t in doc["trials"] if t["scores"]]
    pruned = [t for t in doc["trials"] if t["pruned"]]
    assert 1 <= len(measured) <= 2
    assert all(t["pruned"] and not t["scores"] for t in pruned)
    assert set(doc["comparison"]) == {"winner", "defaults", "rule-based"}
    assert doc["comparison"]["defaults"]["settings"] == {}
    # the winner: the best side by side of the search's best and the rule-based choice (the
    # search's first candidate, sized to the workload's one request)
    assert doc["winner_from"] in ("search #1", "search #2", "rule-based")
    assert doc["winner"] == doc["confirmation"][doc["winner_from"]]["settings"]
    assert doc["comparison"]["rule-based"]["settings"]["parallel"] == 1
    assert doc["model_pins"] == {}
    assert doc["pins"]["context_length"] == 256 and doc["written"]["file"] == str(config)
    assert Path(doc["written"]["backup"]).read_text().count("parallel:") == 0
    code, _out, err = cli(capsys, "validate", str(config))
    assert code == 0, err
    text = config.read_text()
    assert f"parallel: {doc['winner']['parallel']}" in text and "workload:" in text


def test_tune_without_a_model_says_what_to_give(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "velollm.yaml"
    config.write_text("version: 1\nbackend: llamacpp\nserver:\n  binary: /bin/true\n")
    code, _out, err = cli(capsys, "tune", "--config", str(config))
    assert code == 2
    assert "no model to tune" in err and "--model" in err

