"""Issue 14: "No changes" right after apply, while the running server still has the old values.
plan shows them as their own class, pending restart, with the command that restarts it;
--detailed-exitcode counts them as drift only with --include-pending."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli

CONFIG = ("version: 1\nbackend: ollama\ntarget: {kind: shell}\n"
          "server: {num_parallel: 2, keep_alive: 45m}\n")


@pytest.mark.realserver
def test_a_server_started_before_the_apply_is_pending_restart(  # type: ignore[no-untyped-def]
        ollama_server, tmp_path: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    before = ollama_server({"OLLAMA_NUM_PARALLEL": "1"}, model=False)
    code, out, err = cli(capsys, "apply", "--host", before.base_url, "--auto-approve")
    assert code == 0, out + err
    env_file = isolated_home / ".config" / "velollm" / "ollama.env.sh"
    restart = f". {env_file} && ollama serve"

    code, out, _ = cli(capsys, "plan", "--host", before.base_url, "--detailed-exitcode")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1] == "No changes. Your Ollama configuration matches velollm.yaml."
    server = f"running server (pid {before.pid})"
    assert lines[-2] == (f"The {server} is not running with these settings yet "
                         "(2 settings pending restart).")
    assert f"Pending restart: the {server} still has:" in lines
    assert "  OLLAMA_NUM_PARALLEL=1 (wants 2)" in lines
    assert "  OLLAMA_KEEP_ALIVE unset (wants 45m)" in lines
    assert f"  restart it: {restart}" in lines

    code, out, _ = cli(capsys, "plan", "--host", before.base_url, "--detailed-exitcode",
                       "--include-pending", "--json")
    doc = json.loads(out)
    assert code == 2 and doc["changed"] is False and doc["changes"] == []
    assert {p["env"]: (p["now"], p["wants"]) for p in doc["pending"]} == {
        "OLLAMA_NUM_PARALLEL": ("1", "2"), "OLLAMA_KEEP_ALIVE": (None, "45m")}
    assert {p["restart"] for p in doc["pending"]} == {restart}

    after = ollama_server(source=env_file, model=False)  # restarted the way the file says
    code, out, _ = cli(capsys, "plan", "--host", after.base_url, "--detailed-exitcode",
                       "--include-pending", "--json")
    assert (code, json.loads(out)["pending"]) == (0, [])
    code, out, _ = cli(capsys, "plan", "--host", after.base_url)
    assert "Pending restart" not in out and "not running with" not in out


def test_without_a_server_nothing_is_pending(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    # this machine as detect sees it: no GPU and no ollama on PATH (so the newest is assumed)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(gpus=[], ollama_version=None))
    nowhere = "http://127.0.0.1:9"  # nothing listens there
    code, out, err = cli(capsys, "apply", "--host", nowhere, "--auto-approve")
    assert code == 0, out + err
    code, out, _ = cli(capsys, "plan", "--host", nowhere, "--detailed-exitcode",
                       "--include-pending", "--json")
    assert (code, json.loads(out)["pending"]) == (0, [])
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode",
                       "--include-pending")
    assert code == 0 and "Pending restart" not in out
    assert out.splitlines()[-1].startswith("No changes.")
