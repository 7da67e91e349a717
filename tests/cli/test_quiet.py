"""-q means results and errors only (issue 14): plan prints its change lines and its last line,
apply its outcome; warnings stay on stderr (-qq drops them too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli

NO_CHANGES = "No changes. Your Ollama configuration matches velollm.yaml."


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(ollama_version="0.5.4"))
    # a note (context_length), a reason per line, a Files section and a warning (0.0.0.0)
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\nprofile: balanced\n"
        f"target: {{kind: shell, path: {tmp_path / 'ollama.env.sh'}}}\n"
        "server: {context_length: 8192, host: '0.0.0.0:11434'}\n"
        "models:\n  - name: llama3.1:8b\n")
    return tmp_path


def test_plan_quiet_prints_the_changes_and_the_plan_line(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, full, _ = cli(capsys, "plan", "--hardware", "hw.json")
    assert code == 0 and "Notes:" in full and "Files:" in full and "      # " in full
    changes = [line for line in full.splitlines() if line.startswith(("  + ", "  ~ ", "  - "))
               and "context_length = 8192" not in line]  # not the note's "  - " line
    assert len(changes) == 6

    for argv in (("-q", "plan"), ("plan", "-q")):
        code, out, err = cli(capsys, *argv, "--hardware", "hw.json")
        assert code == 0
        assert out.splitlines() == [*changes, "Plan: 6 to add, 0 to change, 0 to remove."]
        assert "no authentication" in err  # a warning is still said, on stderr
    code, _, err = cli(capsys, "-qq", "plan", "--hardware", "hw.json")
    assert code == 0 and err == ""


def test_apply_quiet_prints_the_outcome(project: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "-q", "apply", "--hardware", "hw.json", "--check")
    assert (code, out) == (0, "Would write 2 file(s).\n")
    assert "no authentication" in err
    code, out, _ = cli(capsys, "-q", "apply", "--hardware", "hw.json", "--auto-approve")
    assert code == 0
    assert len(out.splitlines()) == 1 and out.startswith("Apply complete: 2 file(s) changed.")
    code, out, _ = cli(capsys, "-q", "apply", "--hardware", "hw.json", "--auto-approve")
    assert (code, out) == (0, NO_CHANGES + "\n")
    code, out, _ = cli(capsys, "-qq", "plan", "--hardware", "hw.json", "--out", "plan.json")
    assert (code, out) == (0, NO_CHANGES + "\n")
    code, out, err = cli(capsys, "-q", "apply", "plan.json")
    assert (code, out, err) == (0, NO_CHANGES + "\n", "")


def test_apply_quiet_still_shows_what_it_asks_to_approve(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt="": "no")
    code, out, err = cli(capsys, "-q", "apply", "--hardware", "hw.json")
    assert code == 1 and "Apply cancelled." in err
    lines = out.splitlines()
    assert "  + OLLAMA_HOST = 0.0.0.0:11434" in lines
    assert "Plan: 6 to add, 0 to change, 0 to remove." in lines
    assert not any(line.startswith("      # ") for line in lines) and "Files:" not in out
