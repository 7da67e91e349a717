"""Pins written into a user's velollm.yaml: only the pinned values change, comments and order
stay, the result validates, and a file that cannot take them is left alone with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from velollm.config.pins import pinned_model_text, pinned_text, write_pins
from velollm.config.yamlload import load_text
from velollm.errors import ConfigError

BASE = """\
# my server, tuned by hand
version: 1
backend: ollama
server:
  num_parallel: 2   # two users at most
  keep_alive: 10m
models:
  - name: llama3.2:3b
"""


def test_an_existing_value_changes_in_place_and_comments_stay() -> None:
    out = pinned_text(BASE, {"num_parallel": 4})
    assert out == BASE.replace("num_parallel: 2 ", "num_parallel: 4 ")


def test_a_new_key_goes_at_the_end_of_the_section_with_its_indent() -> None:
    out = pinned_text(BASE, {"flash_attention": True, "kv_cache_type": "q8_0"})
    assert "  keep_alive: 10m\n  flash_attention: true\n  kv_cache_type: \"q8_0\"\nmodels:" in out
    data = load_text(out, "t").data
    assert data["server"]["kv_cache_type"] == "q8_0" and data["models"][0]["name"]


def test_a_missing_section_is_added() -> None:
    out = pinned_text("version: 1\n", {"num_parallel": 3})
    assert load_text(out, "t").data == {"version": 1, "server": {"num_parallel": 3}}


def test_strings_that_look_like_other_types_stay_strings() -> None:
    out = pinned_text(BASE, {"keep_alive": "yes", "x": "1e3", "y": "a: b # c"})
    server = load_text(out, "t").data["server"]
    assert server["keep_alive"] == "yes" and server["x"] == "1e3" and server["y"] == "a: b # c"


def test_flow_style_is_refused_with_what_to_do() -> None:
    with pytest.raises(ConfigError, match="flow style"):
        pinned_text("version: 1\nserver: {num_parallel: 2}\n", {"num_parallel": 4})


def test_write_keeps_a_backup_and_refuses_an_invalid_result(tmp_path: Path) -> None:
    path = tmp_path / "velollm.yaml"
    path.write_text(BASE)
    backup = write_pins(path, {"num_parallel": 4})
    assert backup.read_text() == BASE
    assert "num_parallel: 4" in path.read_text()
    before = path.read_text()
    with pytest.raises(ConfigError):
        write_pins(path, {"no_such_knob": 1})  # the schema refuses it: the file stays
    assert path.read_text() == before


def test_a_section_ending_in_a_list_gets_the_new_key_inside_it() -> None:
    text = "version: 1\nserver:\n  models:\n    - path: /m.gguf\nworkload:\n  concurrency: 2\n"
    out = pinned_text(text, {"parallel": 2})
    data = load_text(out, "t").data
    assert data["server"] == {"models": [{"path": "/m.gguf"}], "parallel": 2}
    assert data["workload"] == {"concurrency": 2}


OLLAMA = """\
version: 1
backend: ollama
server:
  num_parallel: 2
models:
  - name: qwen3:8b    # the big one
    num_ctx: 8192
  - name: tiny
    num_batch: 512
workload:
  concurrency: 2
"""


def test_a_models_parameters_change_in_their_entry_and_the_rest_stays() -> None:
    out = pinned_model_text(OLLAMA, "tiny", {"num_batch": 128, "num_thread": 2})
    assert out == OLLAMA.replace("    num_batch: 512\n", "    num_batch: 128\n    num_thread: 2\n")
    assert pinned_model_text(OLLAMA, "tiny:latest", {"num_batch": 128}) == \
        OLLAMA.replace("num_batch: 512", "num_batch: 128")  # Ollama's default tag


def test_a_model_without_an_entry_gets_one_and_a_file_without_models_a_list() -> None:
    out = pinned_model_text(OLLAMA, "llama3.2:3b", {"num_thread": 4})
    data = load_text(out, "t").data
    assert data["models"][2] == {"name": "llama3.2:3b", "num_thread": 4}
    assert data["workload"] == {"concurrency": 2} and "# the big one" in out
    out = pinned_model_text("version: 1\nbackend: ollama\n", "tiny", {"num_batch": 128})
    assert load_text(out, "t").data["models"] == [{"name": "tiny", "num_batch": 128}]


def test_a_flow_style_models_list_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a block list"):
        pinned_model_text("version: 1\nmodels: [{name: a}]\n", "tiny", {"num_batch": 128})


def test_write_pins_puts_server_and_model_pins_in_one_validated_write(tmp_path: Path) -> None:
    path = tmp_path / "velollm.yaml"
    path.write_text(OLLAMA)
    backup = write_pins(path, {"num_parallel": 1}, models={"tiny": {"num_batch": 128,
                                                                    "num_thread": 2}})
    assert backup.read_text() == OLLAMA
    data = load_text(path.read_text(), "t").data
    assert data["server"] == {"num_parallel": 1}
    assert data["models"][1] == {"name": "tiny", "num_batch": 128, "num_thread": 2}
