"""A server velollm can run (issue 14), through the CLI with fake systemctl/launchctl on PATH:
the systemd-user target writes a complete user unit and `apply --restart` reloads and restarts it;
a setting velollm no longer wants leaves launchd's session (`launchctl unsetenv`); a systemd
drop-in taken back because the target changed is reloaded and restarted away too."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from tests.cli.test_follow_up import fake_tool

HW = ("--hardware", "hw.json")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\ntarget: {kind: auto}\nserver: {keep_alive: 30m}\n")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())  # linux, no ollama.service: shell
    bindir = tmp_path / "bin dir"
    bindir.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    for tool in ("systemctl", "launchctl", "ollama"):
        fake_tool(bindir, tool, tmp_path / "calls.log")
    return tmp_path


def _calls(project: Path) -> list[str]:
    log = project / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_systemd_user_unit_is_written_and_restarted(project: Path, isolated_home: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "apply", *HW, "--target", "systemd-user", "--auto-approve",
                         "--restart", "--json")
    assert code == 0, out + err
    doc = json.loads(out)
    unit = isolated_home / ".config/systemd/user/ollama.service"
    assert doc["files"] == [str(unit)]
    text = unit.read_text()
    assert f'\nExecStart="{project / "bin dir" / "ollama"}" serve\n' in text
    assert '\nEnvironment="OLLAMA_KEEP_ALIVE=30m"\n' in text and "\nRestart=on-failure\n" in text
    assert doc["ran"] == ["systemctl --user daemon-reload", "systemctl --user restart ollama"]
    assert doc["follow_up"] == [] and doc["warnings"] == []
    assert _calls(project) == ["systemctl --user daemon-reload", "systemctl --user restart ollama"]
    assert "systemctl --user enable ollama" in doc["msg"]
    # read back: nothing left to do
    code, out, _ = cli(capsys, "plan", *HW, "--target", "systemd-user", "--detailed-exitcode")
    assert code == 0, out


def test_auto_never_picks_systemd_user(project: Path, isolated_home: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "plan", *HW, "--json")
    assert code == 0 and json.loads(out)["target_kind"] == "shell"


def test_systemd_user_warns_about_the_system_service(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    hwdocs.write(project / "hw.json", hwdocs.hardware(managed_by="systemd"))
    code, out, _ = cli(capsys, "plan", *HW, "--target", "systemd-user", "--json")
    assert code == 0
    assert any("sudo systemctl disable --now ollama" in w for w in json.loads(out)["warnings"])


def test_launchd_unsets_a_setting_velollm_no_longer_wants(project: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    hwdocs.write(project / "hw.json", hwdocs.hardware(system="darwin", managed_by="app"))
    (project / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\ntarget: {kind: launchd}\n"
        "server: {keep_alive: 30m, max_queue: 64}\n")
    code, out, err = cli(capsys, "apply", *HW, "--auto-approve", "--restart")
    assert code == 0, out + err
    assert "launchctl setenv OLLAMA_MAX_QUEUE 64" in _calls(project)
    (project / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\ntarget: {kind: launchd}\nserver: {keep_alive: 30m}\n")
    code, out, err = cli(capsys, "apply", *HW, "--auto-approve")
    assert code == 0, out + err
    assert "  launchctl unsetenv OLLAMA_MAX_QUEUE" in out.splitlines()


def test_a_retired_systemd_dropin_is_reloaded_away(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    dropin = project / "ollama.service.d" / "velollm.conf"
    code, out, err = cli(capsys, "apply", *HW, "--target", "systemd", "--path", str(dropin),
                         "--auto-approve")
    assert code == 0, out + err
    assert dropin.exists()
    code, out, err = cli(capsys, "apply", *HW, "--auto-approve", "--restart", "--json")
    assert code == 0, out + err
    doc = json.loads(out)
    assert not dropin.exists() and doc["removed"] == [str(dropin)]
    assert doc["ran"] == ["systemctl daemon-reload", "systemctl restart ollama"]
    assert _calls(project) == doc["ran"]
    assert doc["follow_up"] and doc["follow_up"][0].startswith(". ")  # the shell file's by_hand


def test_a_retired_dropin_commands_are_printed_without_restart(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dropin = project / "velollm.conf"
    assert cli(capsys, "apply", *HW, "--target", "systemd", "--path", str(dropin),
               "--auto-approve")[0] == 0
    code, out, _ = cli(capsys, "apply", *HW, "--auto-approve")
    assert code == 0
    lines = out.splitlines()
    assert "  systemctl daemon-reload" in lines and "  systemctl restart ollama" in lines
    assert _calls(project) == []
