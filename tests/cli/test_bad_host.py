"""A --host that is not a server address is a usage error (exit 2, one line, nothing written) in
every command that takes one; Ollama's own parser would quietly put a default in its place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.backends.ollama.host import host_problem, parse_host

BAD = ["http://[bad", "ftp://example", "http://127.0.0.1:99999", "", "127.0.0.1 11434",
       "http://127.0.0.1:", "'127.0.0.1'"]
COMMANDS = {
    "plan": ["plan"],
    "plan --hardware": ["plan", "--hardware", "hw.json"],
    "apply": ["apply", "--auto-approve"],
    "apply --hardware": ["apply", "--hardware", "hw.json", "--auto-approve"],
    "verify": ["verify", "--skip-benchmark"],
    "benchmark": ["benchmark"],
    "status": ["status"],
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\ntarget: {kind: shell}\nserver: {keep_alive: 30m}\n")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    return tmp_path


def written(home: Path) -> list[Path]:
    """Everything velollm could have written under HOME (settings, state, crash logs)."""
    return sorted(p for p in home.rglob("*") if p.is_file())


@pytest.mark.parametrize("host", BAD)
@pytest.mark.parametrize("command", COMMANDS)
def test_bad_host_is_a_usage_error(project: Path, isolated_home: Path, command: str, host: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    before = written(isolated_home)
    code, _out, err = cli(capsys, *COMMANDS[command], "--host", host)
    assert code == 2, err
    assert err.splitlines() == [err.splitlines()[0]]  # one line
    assert err.startswith(f"error: invalid --host {host!r}: ")
    assert "give 127.0.0.1:11434, http://host:port or https://host" in err
    assert written(isolated_home) == before


def test_bad_host_json_twin(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = cli(capsys, "plan", "--json", "--host", "ftp://example")
    assert code == 2
    doc = json.loads(out)
    assert doc["status"] == "error"
    assert doc["errors"][0]["message"].startswith("invalid --host 'ftp://example': the scheme")


@pytest.mark.parametrize(("value", "url"), [
    ("127.0.0.1:11434", "http://127.0.0.1:11434"),
    ("localhost", "http://localhost:11434"),
    ("https://example.com", "https://example.com:443"),
    ("http://example.com:8080/ollama", "http://example.com:8080/ollama"),
    ("[::1]:8080", "http://[::1]:8080"),
    (":8080", "http://0.0.0.0:8080"),
])
def test_good_hosts_are_read_as_given(value: str, url: str) -> None:
    assert host_problem(value) is None
    assert parse_host(value) == url


def test_unusable_ollama_host_variable_is_an_expected_error(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "ftp://example")
    code, _out, err = cli(capsys, "benchmark")
    assert code == 1
    assert err.startswith("error: OLLAMA_HOST=ftp://example is not an http:// or https:// ")
    assert "bug" not in err
