"""`velollm plan` end to end through the CLI for machines other than this one (--hardware)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli as run


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_ollama_054_context_goes_to_modelfile(workdir: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\nprofile: balanced\ntarget: {kind: shell}\n"
        "server: {context_length: 8192}\nmodels:\n  - name: llama3.1:8b\n")
    hwdocs.write(workdir / "hw.json", hwdocs.hardware(
        gpus=[hwdocs.nvidia("NVIDIA GeForce RTX 4090", 24)], ollama_version="0.5.4"))
    code, out, _err = run(capsys, "plan", "--hardware", "hw.json", "--json")
    assert code == 0
    doc = json.loads(out)
    assert "OLLAMA_CONTEXT_LENGTH" not in doc["env"]
    assert doc["model_params"]["llama3.1:8b"]["num_ctx"] == "8192"
    kinds = [f["kind"] for f in doc["files"]]
    assert kinds == ["shell", "modelfile"]
    assert any("ollama create" in c for f in doc["files"] for c in f["follow_up"])
    ctx = next(c for c in doc["changes"] if c["key"] == "llama3.1:8b num_ctx")
    assert "0.5.13" in ctx["reason"]


def test_recent_ollama_uses_server_context(workdir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\nprofile: balanced\ntarget: {kind: systemd}\n"
        "server: {context_length: 8192}\nmodels:\n  - name: llama3.1:8b\n")
    hwdocs.write(workdir / "hw.json", hwdocs.hardware(
        gpus=[hwdocs.nvidia("NVIDIA GeForce RTX 4090", 24)], ollama_version="0.12.4",
        managed_by="systemd"))
    code, out, _ = run(capsys, "plan", "--hardware", "hw.json", "--path",
                       str(workdir / "velollm.conf"))
    assert code == 0
    assert "+ OLLAMA_CONTEXT_LENGTH = 8192" in out
    assert "then: systemctl daemon-reload" in out
    num_parallel = next(line for line in out.splitlines() if "OLLAMA_NUM_PARALLEL" in line)
    reason = out.splitlines()[out.splitlines().index(num_parallel) + 1]
    assert "GiB" in reason and "llama3.1:8b" in reason


def test_security_warnings(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\nprofile: balanced\ntarget: {kind: shell}\n"
        "server: {host: '0.0.0.0:11434', origins: '*'}\n")
    hwdocs.write(workdir / "hw.json", hwdocs.hardware())
    code, out, err = run(capsys, "plan", "--hardware", "hw.json")
    assert code == 0
    assert "+ OLLAMA_HOST = 0.0.0.0:11434" in out
    assert "no authentication" in err
    assert "OLLAMA_ORIGINS=*" in err


def test_bad_hardware_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "velollm.yaml").write_text("version: 1\nbackend: ollama\n")
    (workdir / "hw.json").write_text("{not json")
    code, _, err = run(capsys, "plan", "--hardware", "hw.json")
    assert code == 1
    assert "hw.json is not a hardware document: not valid JSON" in err
    code, _, err = run(capsys, "plan", "--hardware", "missing.json")
    assert code == 1
    assert "no such file: missing.json" in err


def test_hardware_file_of_another_shape_is_named(workdir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "velollm.yaml").write_text("version: 1\nbackend: ollama\n")
    (workdir / "other.json").write_text('{"a": 1}')
    code, _, err = run(capsys, "plan", "--hardware", "other.json")
    assert code == 1
    lines = err.splitlines()
    assert "error: other.json: $: 'gpus' is a required property" in lines
    assert lines[-2:] == ["error: other.json is not a hardware document: 10 problem(s)",
                          "hint: create it with `velollm detect --json > hardware.json`"]


def test_missing_config(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan")
    assert code == 1
    assert "velollm.yaml" in err
    assert "Traceback" not in err


def test_plan_as_subprocess(workdir: Path) -> None:
    (workdir / "velollm.yaml").write_text("version: 1\nbackend: ollama\nprofile: low-memory\n"
                                          "target: {kind: fish}\n")
    hwdocs.write(workdir / "hw.json", hwdocs.hardware(ram_gib=8))
    proc = subprocess.run([sys.executable, "-m", "velollm", "plan", "--hardware", "hw.json",
                           "--detailed-exitcode", "--color", "never"],
                          capture_output=True, text=True, cwd=workdir, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("Plan: ")
    assert "ollama.env.fish" in proc.stdout


def test_shell_target_for_a_systemd_service_is_warned(workdir: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "velollm.yaml").write_text("version: 1\nbackend: ollama\ntarget: {kind: shell}\n")
    hwdocs.write(workdir / "hw.json", hwdocs.hardware(managed_by="systemd"))
    code, _, err = run(capsys, "plan", "--hardware", "hw.json")
    assert code == 0
    assert "never reads a shell file: use `--target systemd`" in err


def test_values_in_effect_now_are_shown(workdir: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\ntarget: {kind: shell}\nserver: {num_parallel: 2}\n")
    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "7")
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # nothing listens: offline, fast
    code, out, _ = run(capsys, "plan")
    assert code == 0
    assert "OLLAMA_NUM_PARALLEL=7  (shell environment)" in out
    code, out, _ = run(capsys, "plan", "--json")
    assert {"env": "OLLAMA_NUM_PARALLEL", "value": "7",
            "source": "shell environment"} in json.loads(out)["observed"]


def test_target_path_is_relative_to_the_config_file(workdir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sub = workdir / "dotfiles"
    sub.mkdir()
    (sub / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\ntarget: {kind: shell, path: out/ollama.env.sh}\n")
    hwdocs.write(workdir / "hw.json", hwdocs.hardware())
    code, out, _ = run(capsys, "plan", "-f", "dotfiles/velollm.yaml", "--hardware", "hw.json",
                       "--json")
    assert code == 0
    assert json.loads(out)["target_path"] == str((sub / "out" / "ollama.env.sh").resolve())
