"""`velollm tune` through the CLI with an Ollama tuning whose servers return scripted scores (no
server, no timings): the rule-based choice that beats the search's best side by side is the
winner in the table and its JSON twin alike, and --write pins its server knobs under server: and
its model parameters under the model's models: entry, in a file that still validates."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.cli.cliutil import cli
from tests.cli.hwdocs import hardware
from velollm.backends.ollama.backend import OllamaBackend
from velollm.core.hardware import Hardware
from velollm.core.tune_space import Candidate, Space, ollama_pins

CONFIG = """\
version: 1
backend: ollama
server:
  keep_alive: 5m
models:
  - name: tiny
    num_ctx: 2048
workload:
  concurrency: 2
  prompt_tokens: 24
  output_tokens: 8
"""
RULES = {"num_parallel": 2, "num_batch": 512, "num_thread": 4}


class Scripted:
    """Ollama's space on a made-up machine: two slots and four threads are best; the
    rule-based choice (outside the searched batch sizes) is better still side by side."""

    space = Space({"num_parallel": (1, 2), "num_batch": (128, 256), "num_thread": (1, 4)})
    described: ClassVar[dict[str, str]] = {"binary": "/usr/bin/ollama", "model": "tiny", "build": "Ollama 0.5.4"}

    def __init__(self) -> None:
        self.up = 0

    def prune(self, _c: Candidate) -> str | None:
        return None

    def rule_based(self) -> Candidate:
        return RULES

    def pins(self, c: Candidate) -> dict[str, object]:
        return ollama_pins(c)

    def model_pins(self, c: Candidate) -> dict[str, dict[str, object]]:
        return {"tiny": {k: c[k] for k in ("num_batch", "num_thread") if k in c}}

    @contextlib.contextmanager
    def launch(self, c: Candidate) -> Iterator[Callable[[], float | None]]:
        score = 5.0 if not c else (10.0 * int(c["num_parallel"])  # type: ignore[call-overload]
                                   + int(c["num_thread"]) + (9.0 if c == RULES else 0.0))  # type: ignore[call-overload]
        yield lambda: score


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OllamaBackend, "tuning", lambda _self, _request: Scripted())
    monkeypatch.setattr("velollm.app.facts.load_hardware",
                        lambda _path: Hardware.from_dict(hardware(cores=4)))


@pytest.mark.usefixtures("scripted")
def test_the_rule_based_winner_is_reported_and_pinned_for_server_and_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "velollm.yaml"
    config.write_text(CONFIG)
    code, out, err = cli(capsys, "--json", "tune", "--config", str(config), "--trials", "4",
                         "--rounds", "1", "--confirm-rounds", "2", "--write")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["trials"][0]["settings"]["num_parallel"] == 2  # the seed: rules within the space
    assert doc["winner"] == RULES and doc["winner_from"] == "rule-based"
    assert doc["comparison"]["winner"]["settings"] == RULES
    assert doc["comparison"]["winner"]["scores"] == doc["confirmation"]["rule-based"]["scores"]
    assert {"search #1", "rule-based", "defaults"} <= set(doc["confirmation"])
    assert doc["gain"]["over_defaults"] == pytest.approx(33.0 / 5.0)
    assert doc["pins"] == {"num_parallel": 2}
    assert doc["model_pins"] == {"tiny": {"num_batch": 512, "num_thread": 4}}
    searched = sum(len(t["scores"]) for t in doc["trials"])
    confirmed = {json.dumps(c["settings"], sort_keys=True) for c in doc["confirmation"].values()}
    assert doc["rounds"] == searched + 2 * len(confirmed)
    text = config.read_text()
    assert "  num_parallel: 2\n" in text
    assert "  - name: tiny\n    num_ctx: 2048\n    num_batch: 512\n    num_thread: 4\n" in text
    code, _out, err = cli(capsys, "validate", str(config))
    assert code == 0, err


@pytest.mark.usefixtures("scripted")
def test_the_table_shows_the_side_by_side_winner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no ./velollm.yaml
    code, out, err = cli(capsys, "tune", "--backend", "ollama", "--model", "tiny",
                         "--concurrency", "2", "--trials", "3", "--rounds", "1", "--confirm-rounds", "1")
    assert code == 0, err
    starred = [line for line in out.splitlines() if line.startswith(" *")]
    assert len(starred) == 1 and "rule-based" in starred[0]
    assert "num_batch=512, num_parallel=2, num_thread=4" in starred[0]
    assert "and under models: for tiny:" in out and "  num_batch: 512" in out
