"""Each fact once (issue 14): a pinned setting the installed Ollama does not read is one note, not a
note and two warnings; an apply with nothing to do says "No changes" once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli

FACT = "OLLAMA_CONTEXT_LENGTH is read from Ollama 0.5.13 on; this is 0.5.4"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(ollama_version="0.5.4"))
    return tmp_path


def _config(project: Path, models: str) -> None:
    (project / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\nprofile: balanced\n"
        f"target: {{kind: shell, path: {project / 'ollama.env.sh'}}}\n"
        f"server: {{context_length: 8192}}\n{models}")


def test_unread_pin_moved_to_the_models_is_one_note(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _config(project, "models:\n  - name: llama3.1:8b\n")
    code, out, err = cli(capsys, "plan", "--hardware", "hw.json")
    assert code == 0
    assert FACT not in err and "warning:" not in err  # not a warning, let alone two
    notes = out.split("\nNotes:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert notes == [f"  - context_length = 8192: {FACT}, so each model's num_ctx carries it"
                     + " instead"]
    # the num_ctx line keeps its own reason; nothing else repeats the fact
    assert out.count(FACT) == 2
    reason = out.splitlines()[out.splitlines().index("  + llama3.1:8b num_ctx = 8192") + 1]
    assert FACT in reason

    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["warnings"] == []
    assert [n for n in doc["notes"] if FACT in n] == [notes[0][4:]]
    assert FACT in next(c["reason"] for c in doc["changes"] if c["key"] == "llama3.1:8b num_ctx")


def test_unread_pin_not_written_is_one_note(project: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _config(project, "")  # no model to carry the context
    code, out, err = cli(capsys, "plan", "--hardware", "hw.json", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["warnings"] == [] and not err
    assert doc["notes"] == [f"context_length = 8192: {FACT}, so velollm does not write it"]
    assert "OLLAMA_CONTEXT_LENGTH" not in doc["env"]


def test_apply_with_nothing_to_do_says_no_changes_once(project: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _config(project, "models:\n  - name: llama3.1:8b\n")
    code, _, _ = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")
    assert code == 0
    for extra in ((), ("--check",)):
        code, out, err = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve", *extra)
        assert code == 0, err
        assert out.count("No changes.") == 1, out
        assert out.splitlines()[-1] == ("No changes. Your Ollama configuration matches "
                                        "velollm.yaml.")
    code, _, _ = cli(capsys, "plan", "--hardware", "hw.json", "--out", "plan.json")
    code, out, _ = cli(capsys, "apply", "plan.json")  # a saved plan: the outcome is its one line
    assert code == 0 and out.count("No changes.") == 1
