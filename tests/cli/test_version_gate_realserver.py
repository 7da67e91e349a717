"""A version-gated setting on two real Ollamas (issue 12): planned on Ollama 0.9.3, velollm writes
OLLAMA_CONTEXT_LENGTH (read from 0.5.13 on); the same file started under 0.9.3 has it in force by
its environment and log, and under 0.5.4 it is reported as not read, with the version that reads
it. Once a model is loaded, verify also reads what the model really ran with: this IPEX-LLM 0.9.3
build takes its context from OLLAMA_NUM_CTX instead (measured: 2048 tokens per slot whatever
OLLAMA_CONTEXT_LENGTH says), and verify says so."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.cli.cliutil import cli

CONFIG = """\
version: 1
backend: ollama
target: {kind: shell}
server:
  context_length: 1024
  num_parallel: 1
"""


def _verify(capsys: pytest.CaptureFixture[str], server: Any) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(capsys, "verify", "--host", server.base_url, "--log", str(server.log_path),
                       "--skip-benchmark", "--json")
    doc: dict[str, Any] = json.loads(out)
    return code, {s["env"]: s for s in doc["settings"]}


def _load_tiny(base_url: str) -> None:
    body = json.dumps({"model": "tiny", "prompt": "hi", "stream": False,
                       "options": {"num_predict": 1}}).encode()
    request = urllib.request.Request(f"{base_url}/api/generate", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        assert json.loads(r.read())["done"] is True


@pytest.mark.realserver
def test_context_length_on_0_9_3_and_0_5_4(ollama_server, ollama093_server,  # type: ignore[no-untyped-def]
                                            tmp_path: Path, isolated_home: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    planned_on = ollama093_server(model=False)
    code, out, err = cli(capsys, "plan", "--host", planned_on.base_url, "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["ollama_version"] == "0.9.3"
    assert plan["env"]["OLLAMA_CONTEXT_LENGTH"] == "1024"
    code, out, err = cli(capsys, "apply", "--host", planned_on.base_url, "--auto-approve")
    assert code == 0, out + err
    env_file = isolated_home / ".config" / "velollm" / "ollama.env.sh"

    new = ollama093_server(source=env_file)
    code, settings = _verify(capsys, new)
    ctx = settings["OLLAMA_CONTEXT_LENGTH"]
    assert (ctx["status"], ctx["observed"]) == ("effective", "1024"), ctx
    assert code == 0, settings

    old = ollama_server(source=env_file, model=False)
    code, settings = _verify(capsys, old)
    ctx = settings["OLLAMA_CONTEXT_LENGTH"]
    assert ctx["status"] == "not effective", ctx
    assert "read from Ollama 0.5.13 on; this is 0.5.4" in ctx["why"], ctx
    assert settings["OLLAMA_NUM_PARALLEL"]["status"] == "effective"
    assert code == 4

    _load_tiny(new.base_url)  # tiny was trained on 2048 tokens: 1024 fits
    code, settings = _verify(capsys, new)
    ctx = settings["OLLAMA_CONTEXT_LENGTH"]
    assert (ctx["status"], ctx["observed"]) == ("not effective", "2048"), ctx
    assert "2048 tokens per slot" in ctx["why"], ctx
    assert settings["OLLAMA_NUM_PARALLEL"]["status"] == "effective"
    assert code == 4
