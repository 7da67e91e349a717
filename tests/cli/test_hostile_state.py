"""Issue 15, the state file: a state.json that is null, a list, binary, nested deeply, truncated,
huge, of another shape, or whose records point at other files is one clear error that says how
to recover (move it aside), exit 1, with nothing written, for apply, destroy, plan, status and
verify.
A well-formed record naming a file velollm did not write never gets that file deleted or
overwritten."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from tests.cli.hostile import refused
from velollm.io.xdg import state_dir

CONFIG = """\
version: 1
backend: ollama
target: {kind: shell}
server:
  keep_alive: 30m
"""
HW = ("--hardware", "hw.json")
COMMANDS = {"apply": ("apply", *HW, "--auto-approve"), "destroy": ("destroy", "--auto-approve"),
            "plan": ("plan", *HW), "status": ("status",),
            "verify": ("verify", "--skip-benchmark", "--host", "127.0.0.1:9")}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    (tmp_path / "victim.txt").write_text("keep me\n")
    return tmp_path


def _state() -> Path:
    return state_dir() / "state.json"


def _good(project: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_state().read_text())
    return doc


def _write(data: bytes | str) -> Callable[[Path], None]:
    def make(project: Path) -> None:
        _state().write_bytes(data.encode() if isinstance(data, str) else data)
    return make


def _edit(change: Callable[[dict[str, Any], Path], None]) -> Callable[[Path], None]:
    """The state velollm wrote, with one thing changed."""
    def make(project: Path) -> None:
        doc = _good(project)
        change(doc, project)
        _state().write_text(json.dumps(doc))
    return make


def _record(**fields: Any) -> Callable[[dict[str, Any], Path], None]:
    def change(doc: dict[str, Any], project: Path) -> None:
        doc["files"][0].update({k: (v.format(project=project, state=state_dir())
                                    if isinstance(v, str) else v) for k, v in fields.items()})
    return change


def _set(key: str, value: Any) -> Callable[[dict[str, Any], Path], None]:
    def change(doc: dict[str, Any], project: Path) -> None:
        doc[key] = value
    return change


def _setting(key: str, value: Any) -> Callable[[dict[str, Any], Path], None]:
    def change(doc: dict[str, Any], project: Path) -> None:
        doc["settings"][key] = value
    return change


def _duplicate(doc: dict[str, Any], project: Path) -> None:
    doc["files"].append(dict(doc["files"][0]))


def _nested(depth: int) -> Callable[[dict[str, Any], Path], None]:
    def change(doc: dict[str, Any], project: Path) -> None:
        value: Any = "x"
        for _ in range(depth):
            value = {"a": value}
        doc["settings"]["extra"] = value
    return change


def _many(doc: dict[str, Any], project: Path) -> None:
    doc["files"] = [dict(doc["files"][0], path=f"/tmp/f{i}") for i in range(10_001)]


DAMAGED: dict[str, Callable[[Path], None]] = {
    "null": _write("null"), "list": _write("[]"), "string": _write('"state"'),
    "number": _write("1"), "true": _write("true"), "empty": _write(""),
    "binary": _write(bytes(range(256)) * 8), "utf16": _write('{"version": 1}'.encode("utf-16")),
    "truncated": _write('{"version": 1, "files": [{"path": "/x", "sha'),
    "not-json": _write("{not json"), "nested-json": _write("[" * 200_000 + "]" * 200_000),
    "nested-object": _edit(_nested(50)), "huge": _write('{"version": 1, "x": "'
                                                        + "y" * (5 << 20) + '"}'),
    "version-2": _edit(_set("version", 2)), "version-text": _edit(_set("version", "1")),
    "files-object": _edit(_set("files", {"path": "/etc/passwd"})),
    "files-null": _edit(_set("files", None)), "files-strings": _edit(_set("files", ["/x"])),
    "too-many-files": _edit(_many), "settings-list": _edit(_set("settings", [])),
    "plan-id-number": _edit(_set("plan_id", 5)),
    "path-relative": _edit(_record(path="victim.txt")),
    "path-dotdot": _edit(_record(path="{project}/../victim.txt")),
    "path-nul": _edit(_record(path="/tmp/x\u0000y")), "path-number": _edit(_record(path=7)),
    "path-missing": _edit(_record(path=None)), "sha-not-hex": _edit(_record(sha256="zz")),
    "sha-list": _edit(_record(sha256=[1])), "created-text": _edit(_record(created="yes")),
    "target-shell-words": _edit(_record(target="shell; rm -rf ~")),
    "backup-victim": _edit(_record(backup="{project}/victim.txt", created=False)),
    "backup-etc": _edit(_record(backup="/etc/passwd", created=False)),
    "backup-dotdot": _edit(_record(backup="{state}/backups/../../victim.txt", created=False)),
    "backup-nested": _edit(_record(backup="{state}/backups/a/b", created=False)),
    "duplicate-path": _edit(_duplicate),
    "env-list": _edit(_setting("env", ["A=1"])),
    "env-bad-name": _edit(_setting("env", {"A;touch pwned": "1"})),
    "env-number": _edit(_setting("env", {"OLLAMA_X": 1})),
    "unset-bad-name": _edit(_setting("unset", ["$(touch pwned)"])),
    "models-list": _edit(_setting("models", ["m"])),
    "target-number": _edit(_setting("target", 1)),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_a_damaged_state_file_is_a_clear_error(name: str, command: str, project: Path,
                                               isolated_home: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "apply", *HW, "--auto-approve")[0] == 0
    (project / "velollm.yaml").write_text(CONFIG.replace("30m", "2h"))  # something to write
    DAMAGED[name](project)
    err = refused(capsys, [project, isolated_home], *COMMANDS[command])
    assert f"the state file {_state()} is damaged" in err
    assert f"move it aside (`mv {_state()} {_state()}.damaged`)" in err
    assert not (project / "pwned").exists()


def test_moving_a_damaged_state_aside_recovers(project: Path, isolated_home: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The hint works: velollm starts over; the file it wrote is no longer managed, and
    --force takes it over (keeping it as the original destroy puts back)."""
    assert cli(capsys, "apply", *HW, "--auto-approve")[0] == 0
    target = isolated_home / ".config" / "velollm" / "ollama.env.sh"
    written = target.read_text()
    _state().write_text("null")
    _state().rename(_state().with_name("state.json.damaged"))
    assert cli(capsys, "apply", *HW, "--auto-approve")[0] == 0  # identical: left alone
    (project / "velollm.yaml").write_text(CONFIG.replace("30m", "2h"))
    code, _, err = cli(capsys, "apply", *HW, "--auto-approve")
    assert code == 1 and "--force" in err  # the file is there, and not recorded any more
    assert cli(capsys, "apply", *HW, "--auto-approve", "--force")[0] == 0
    assert "'2h'" in target.read_text()
    assert cli(capsys, "destroy", "--auto-approve")[0] == 0
    assert target.read_text() == written


def _foreign_record(*, sha_of_victim: bool, backup: bool) -> Callable[[Path], None]:
    """A well-formed record that names the victim, a file velollm never wrote."""
    def change(doc: dict[str, Any], project: Path) -> None:
        victim = project / "victim.txt"
        sha = hashlib.sha256(victim.read_bytes()).hexdigest() if sha_of_victim else "0" * 64
        record = {"path": str(victim), "sha256": sha, "target": "shell", "created": not backup,
                  "backup": None}
        if backup:
            copy = state_dir() / "backups" / "20260101T000000000000Z-planted-victim.txt"
            copy.parent.mkdir(exist_ok=True)
            copy.write_text("export PLANTED=1\n")
            record["backup"] = str(copy)
        doc["files"].append(record)
    return _edit(change)


FOREIGN: dict[str, Callable[[Path], None]] = {
    "wrong-sha": _foreign_record(sha_of_victim=False, backup=False),
    "right-sha": _foreign_record(sha_of_victim=True, backup=False),
    "wrong-sha-backup": _foreign_record(sha_of_victim=False, backup=True),
    "right-sha-backup": _foreign_record(sha_of_victim=True, backup=True),
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_destroy_never_deletes_or_overwrites_a_file_velollm_did_not_write(
        name: str, project: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "apply", *HW, "--auto-approve")[0] == 0
    FOREIGN[name](project)
    err = refused(capsys, [project, isolated_home], "destroy", "--auto-approve")
    assert f"{project / 'victim.txt'} is recorded in velollm's state, but it neither holds" in err
    assert "velollm leaves it alone" in err


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_apply_never_retires_a_file_velollm_did_not_write(
        name: str, project: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """velollm.yaml no longer produces the recorded victim: apply would take it back."""
    assert cli(capsys, "apply", *HW, "--auto-approve")[0] == 0
    FOREIGN[name](project)
    err = refused(capsys, [project, isolated_home], "apply", *HW, "--auto-approve", "--force")
    assert "velollm leaves it alone" in err


def test_apply_backs_up_a_target_state_claims_but_velollm_did_not_write(
        project: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """velollm.yaml points at the victim and state claims it: it is still a foreign file, so
    apply asks for --force, and --force keeps the original for destroy to put back."""
    victim = project / "victim.txt"
    (project / "velollm.yaml").write_text(CONFIG.replace("{kind: shell}",
                                                        "{kind: shell, path: victim.txt}"))
    state_dir().mkdir(parents=True)
    _state().write_text(json.dumps({"version": 1, "files": [
        {"path": str(victim), "sha256": hashlib.sha256(victim.read_bytes()).hexdigest(),
         "target": "shell", "created": True, "backup": None}], "settings": {}}))
    err = refused(capsys, [project, isolated_home], "apply", *HW, "--auto-approve")
    assert "velollm did not create" in err and "--force" in err
    assert cli(capsys, "apply", *HW, "--auto-approve", "--force")[0] == 0
    assert "OLLAMA_KEEP_ALIVE" in victim.read_text()
    assert cli(capsys, "destroy", "--auto-approve")[0] == 0
    assert victim.read_text() == "keep me\n"
