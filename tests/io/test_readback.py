"""Everything a target renders reads back to the same values (the "before" of the next plan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends.ollama.nasty import NASTY_STOPS
from velollm.backends.ollama import targets
from velollm.core.planner import ParamValue
from velollm.io import readback

NASTY = {
    "OLLAMA_A": "plain",
    "OLLAMA_B": "with space and 'single' and \"double\" quotes",
    "OLLAMA_C": "$HOME $(id) `id` %h 100% back\\slash \\n",
    "OLLAMA_D": "unicode é 漢字 🚀",
    "OLLAMA_E": "",
    "OLLAMA_F": "semi;colon & amp | pipe # hash",
}


@pytest.mark.parametrize("kind", ["shell", "fish", "systemd", "systemd-user", "launchd"])
def test_rendered_env_reads_back_exactly(kind: str, tmp_path: Path) -> None:
    (rendered,) = targets.render_target(kind, NASTY, path=tmp_path / "f", home=tmp_path)
    assert readback.parse_env_file(kind, rendered.content) == NASTY


@pytest.mark.parametrize("kind", ["shell", "fish", "systemd", "systemd-user", "launchd"])
def test_unset_lines_are_not_values(kind: str, tmp_path: Path) -> None:
    """A removed setting is unset in the shell files: it reads back as absent, not as a value
    (else the next plan would show it again)."""
    (rendered,) = targets.render_target(kind, NASTY, path=tmp_path / "f", home=tmp_path,
                                        unset=["OLLAMA_MAX_QUEUE", "OLLAMA_A"])
    assert readback.parse_env_file(kind, rendered.content) == NASTY
    unsets = "OLLAMA_MAX_QUEUE" in rendered.content
    assert unsets == (kind in ("shell", "fish"))  # a drop-in or plist: the line is just gone


def test_a_hand_written_unset_after_the_export_removes_it() -> None:
    shell = "export OLLAMA_A='1' OLLAMA_B=2\nunset OLLAMA_A\nunset -f OLLAMA_B\n"
    assert readback.parse_shell(shell) == {"OLLAMA_B": "2"}
    fish = ("set -gx OLLAMA_A 1\nset -x -g OLLAMA_B 2\nset --erase OLLAMA_A\n"
            "set -gx OLLAMA_C -1\nset -e -g OLLAMA_D\n")
    assert readback.parse_fish(fish) == {"OLLAMA_B": "2", "OLLAMA_C": "-1"}


def test_rendered_modelfile_reads_back(tmp_path: Path) -> None:
    models: dict[str, dict[str, ParamValue]] = {"llama3.1:8b": {"num_ctx": "8192",
                                                                "stop": ("a b",)}}
    (rendered,) = targets.render_target("modelfile", {}, path=tmp_path, models=models,
                                        home=tmp_path)
    assert readback.parse_modelfile(rendered.content) == ("llama3.1:8b", models["llama3.1:8b"])


def test_several_stop_sequences_are_one_parameter_line_each(tmp_path: Path) -> None:
    stops = ("<|eot_id|>", "User: ", "[x]")
    models: dict[str, dict[str, ParamValue]] = {"llama3.1:8b": {"stop": stops,
                                                                "temperature": "0.5"}}
    (rendered,) = targets.render_target("modelfile", {}, path=tmp_path, models=models,
                                        home=tmp_path)
    lines = [ln for ln in rendered.content.splitlines() if ln.startswith("PARAMETER stop")]
    assert lines == ["PARAMETER stop <|eot_id|>", 'PARAMETER stop "User: "',
                     "PARAMETER stop [x]"]
    assert readback.parse_modelfile(rendered.content) == ("llama3.1:8b", models["llama3.1:8b"])


def test_stop_sequences_that_need_quoting_read_back_exactly(tmp_path: Path) -> None:
    models: dict[str, dict[str, ParamValue]] = {"llama3.1:8b": {"stop": NASTY_STOPS}}
    (rendered,) = targets.render_target("modelfile", {}, path=tmp_path, models=models,
                                        home=tmp_path)
    lines = [ln for ln in rendered.content.splitlines() if ln.startswith("PARAMETER stop")]
    assert lines[:8] == ["PARAMETER stop <|eot_id|>", 'PARAMETER stop " User:"',
                         'PARAMETER stop "Assistant: "', 'PARAMETER stop "two  spaces"',
                         'PARAMETER stop """""""', 'PARAMETER stop """"""""',
                         'PARAMETER stop """""x"""', 'PARAMETER stop ""quoted""']
    assert len(lines) == len(NASTY_STOPS)
    assert readback.parse_modelfile(rendered.content) == ("llama3.1:8b", models["llama3.1:8b"])


def test_hand_edited_shell_file() -> None:
    text = "# mine\nexport OLLAMA_NUM_PARALLEL=8\nexport  OLLAMA_KEEP_ALIVE=\"1h\"  # note\n" \
           "echo hi\nexport BROKEN='unterminated\n"
    assert readback.parse_shell(text) == {"OLLAMA_NUM_PARALLEL": "8", "OLLAMA_KEEP_ALIVE": "1h"}


def test_hand_edited_fish_file() -> None:
    text = "set -gx OLLAMA_NUM_PARALLEL 8\nset -x OLLAMA_KEEP_ALIVE \"1h\"\nset -g NOT_EXPORTED 1\n"
    assert readback.parse_fish(text) == {"OLLAMA_NUM_PARALLEL": "8", "OLLAMA_KEEP_ALIVE": "1h"}


def test_garbage_plist_reads_as_empty() -> None:
    assert readback.parse_launchd("not a plist") == {}
