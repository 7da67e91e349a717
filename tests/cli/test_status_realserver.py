"""`velollm status` against a real Ollama started from the shell file velollm applied: every
setting is effective on it, and the report names the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli

CONFIG = """\
version: 1
backend: ollama
server:
  num_parallel: 2
  keep_alive: 45m
  max_loaded_models: 1
"""


@pytest.mark.realserver
def test_status_shows_the_settings_effective_on_a_real_server(
        ollama_server, tmp_path: Path, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG, encoding="utf-8")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(ollama_version="0.5.4"))
    env_file = tmp_path / "ollama.env.sh"
    code, _, err = cli(capsys, "apply", "--hardware", "hw.json", "--target", "shell", "--path",
                       str(env_file), "--auto-approve")
    assert code == 0, err
    server = ollama_server(source=env_file, model=False)  # started the way the file says

    code, out, err = cli(capsys, "status", "--host", server.base_url, "--json")
    doc = json.loads(out)
    assert code == 0, (doc, err)
    assert doc["server"]["reachable"] is True and doc["server"]["pid"] == server.pid
    assert doc["server"]["version"].startswith("0.5.4")
    assert doc["files"][0]["drift"] == "none"
    settings = {s["env"]: s for s in doc["settings"]}
    for name, value in (("OLLAMA_NUM_PARALLEL", "2"), ("OLLAMA_KEEP_ALIVE", "45m"),
                        ("OLLAMA_MAX_LOADED_MODELS", "1")):
        assert settings[name]["wanted"] == value
        assert (settings[name]["status"], settings[name]["observed"]) == ("effective", value)
    assert all(s["status"] == "effective" for s in doc["settings"]), doc["settings"]

    code, out, _ = cli(capsys, "status", "--host", server.base_url)
    assert code == 0
    assert f"Server: Ollama {doc['server']['version']} at {server.base_url} (pid {server.pid})" \
        in out.splitlines()
    [row] = [line for line in out.splitlines() if line.startswith("  OLLAMA_KEEP_ALIVE ")]
    assert row.split()[:4] == ["OLLAMA_KEEP_ALIVE", "45m", "45m", "effective"]
    assert out.splitlines()[-1] == ("status: 1 file(s) as velollm wrote them; "
                                    f"settings: {len(settings)} effective")
