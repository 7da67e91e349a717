"""The dashboard's Now panel on a real llama-server: its slots from /slots and a live generation
rate from /metrics between two polls (Ollama reports neither). No timing is asserted."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.realllama import LlamaServerFactory
from velollm.app.dashboard import Dashboard

pytestmark = pytest.mark.realserver


def test_now_shows_slots_and_a_live_rate(llama_server: LlamaServerFactory,
                                          tmp_path: Path) -> None:
    server = llama_server(args=["--metrics", "-np", "2", "-c", "1024"])
    config = tmp_path / "velollm.yaml"
    config.write_text("version: 1\nbackend: llamacpp\n")
    board = Dashboard(host=server.base_url, config=config, state_dir=tmp_path / "state")
    first = board.now()
    (shown,) = first["servers"]
    assert shown["up"] and shown["backend"] == "llama.cpp"
    assert shown["slots"] == "0 busy of 2"
    assert first["live"] is None  # one reading is no rate yet
    body = json.dumps({"prompt": "Hello", "n_predict": 8}).encode()
    urllib.request.urlopen(urllib.request.Request(server.base_url + "/completion", body),
                           timeout=120).read()
    second = board.now()
    assert second["live"] is not None and second["live"]["tokens_total"] >= 1
    assert second["live"]["tokens_per_s"] > 0
