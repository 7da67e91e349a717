"""A proxy URL with credentials (issue 15) never shows in plan, apply, status or an error (text
and --json), nor in the explaining parts of a saved plan, nor in a crash log; the files that must
hold it are readable by their owner only."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm import main as velollm_main

SECRET = "s3cr3t-Pa55"
URL = f"http://proxyuser:{SECRET}@proxy.example:3128"
MASKED = "http://proxyuser:***@proxy.example:3128"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")  # nothing listens: no server is asked
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    _config(tmp_path, URL)
    return tmp_path


def _config(where: Path, proxy: str) -> None:
    (where / "velollm.yaml").write_text(
        f"version: 1\ntarget: {{kind: shell}}\nserver: {{https_proxy: '{proxy}'}}\n")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("as_json", [False, True])
def test_plan_masks_the_password(as_json: bool, workdir: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "plan", "--hardware", "hw.json", *(["--json"] if as_json else []))
    assert code == 0, err
    assert SECRET not in out + err
    assert MASKED in out
    if as_json:
        assert json.loads(out)["env"]["HTTPS_PROXY"] == MASKED


def test_saved_plan_is_private_and_explains_without_the_password(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "plan", "--hardware", "hw.json", "--out", "plan.json")
    assert code == 0 and SECRET not in out + err
    saved = workdir / "plan.json"
    assert _mode(saved) == 0o600
    doc = json.loads(saved.read_text())
    for part in ("changes", "observed", "warnings", "notes"):
        assert SECRET not in json.dumps(doc[part]), part
    # What apply writes keeps the value it needs, in a file only its owner reads.
    assert doc["env"]["HTTPS_PROXY"] == URL


def test_apply_writes_the_credential_owner_only_and_never_shows_it(
        workdir: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")
    assert code == 0, err
    assert SECRET not in out + err
    [target] = (isolated_home / ".config" / "velollm").glob("*.sh")
    assert _mode(target) == 0o600 and SECRET in target.read_text()

    code, out, err = cli(capsys, "status", "--json")
    assert SECRET not in out + err and MASKED in out

    _config(workdir, URL.replace(SECRET, "n3w-" + SECRET))
    code, out, err = cli(capsys, "plan", "--hardware", "hw.json", "--out", "plan.json")
    assert code == 0 and SECRET not in out + err
    assert f"HTTPS_PROXY: {MASKED} -> {MASKED} (the credentials in it change)" in out
    changes = json.loads((workdir / "plan.json").read_text())["changes"]
    assert [(c["before"], c["after"]) for c in changes] == [(MASKED, MASKED)]


def test_an_error_that_quotes_the_value_masks_it(workdir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "velollm.yaml").write_text(f"version: 1\nserver: {{num_parallel: '{URL}'}}\n")
    for argv in (("plan", "--hardware", "hw.json"), ("plan", "--hardware", "hw.json", "--json")):
        code, out, err = cli(capsys, *argv)
        assert code == 1
        assert SECRET not in out + err and "proxyuser:***@" in out + err


def test_crash_log_masks_the_password(workdir: Path, isolated_home: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"could not reach {URL}")

    monkeypatch.setattr("velollm.app.planning.make_plan", crash)
    monkeypatch.setattr(sys, "argv", ["velollm", "plan", "--host", URL])
    code, _out, err = cli(capsys, "plan", "--hardware", "hw.json")
    assert code == 3 and SECRET not in err
    [log] = velollm_main.crash_log_dir().glob("velollm-crash-*.log")
    text = log.read_text()
    assert SECRET not in text and "proxyuser:***@proxy.example" in text
    assert _mode(log) == 0o600


@pytest.mark.realserver
def test_a_running_server_with_a_proxy_password_never_shows_it(  # type: ignore[no-untyped-def]
        ollama_server, tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Ollama's docs tell users to start it with HTTPS_PROXY; plan and status read the running
    server's environment."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\ntarget: {kind: shell}\nserver: {https_proxy: 'http://proxy.example:3128'}\n")
    server = ollama_server({"HTTPS_PROXY": URL}, model=False)
    said = ""
    for extra in ((), ("--json",), ("--out", "plan.json")):
        code, out, err = cli(capsys, "plan", "--host", server.base_url, *extra)
        assert code == 0, out + err
        said += out + err
    assert SECRET not in said and "proxy.example" in said
    saved = (tmp_path / "plan.json").read_text()
    assert SECRET not in saved and _mode(tmp_path / "plan.json") == 0o600
    code, out, err = cli(capsys, "status", "--host", server.base_url, "--json")
    assert SECRET not in out + err
