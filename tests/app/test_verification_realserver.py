"""verify against a real Ollama 0.5.4: a shell-target apply, the server restarted from that file."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.realserver import MODEL, ServerFactory
from velollm.backends.ollama.client import OllamaClient
from velollm.backends.ollama.targets import render_target
from velollm.bench import baseline
from velollm.io.fileops import apply_files
from velollm.main import main
from velollm.output import OUT, configure
from velollm.report import verify as verify_report
from velollm.resources import load_schema

pytestmark = pytest.mark.realserver

ENV = {"OLLAMA_NUM_PARALLEL": "2", "OLLAMA_KEEP_ALIVE": "30m", "OLLAMA_MAX_LOADED_MODELS": "1",
       "OLLAMA_CONTEXT_LENGTH": "4096", "OLLAMA_KV_CACHE_TYPE": "q8_0"}


def _apply_shell(env: dict[str, str]) -> Path:
    """What `velollm apply` does for the shell target: render, then fileops writes + state."""
    path = Path.home() / ".config" / "velollm" / "ollama.env.sh"
    apply_files(render_target("shell", env, path=path),
                settings={"env": env, "target": "shell", "models": {}})
    return path


def _sourced(path: Path) -> dict[str, str]:
    """The OLLAMA_* environment a shell has after sourcing the file: what `ollama serve` started
    from that shell inherits."""
    out = subprocess.run(["bash", "-c", 'source "$1" && env -0', "bash", str(path)],
                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                         capture_output=True, check=True, timeout=10).stdout
    pairs = (item.decode().partition("=") for item in out.split(b"\0") if item)
    return {k: v for k, _, v in pairs if k.startswith("OLLAMA_")}


def _verify(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_restarted_with_the_file_then_baseline_compare(
        ollama_server: ServerFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    shell_file = _apply_shell(ENV)
    env = _sourced(shell_file)
    assert env == ENV  # the file round-trips through bash
    applied_at = time.time() - 60  # applied a minute before the restart: ages far apart
    os.utime(shell_file, (applied_at, applied_at))
    server = ollama_server(env)
    client = OllamaClient(server.base_url)
    path = baseline.record_baseline(client, MODEL, suite="quick", iterations=1)
    client.close()
    assert path == baseline.baseline_path() and path.is_file()
    recorded = baseline.load_baseline()
    assert recorded is not None and recorded["model"] == MODEL
    jsonschema.validate(recorded, load_schema("benchmark.schema.json"))
    config = tmp_path / "velollm.yaml"
    config.write_text("version: 1\nverify:\n  iterations: 1\n  max_regression: 0.5\n",
                      encoding="utf-8")

    code, doc = _verify(capsys, "-f", str(config), "--host", server.base_url,
                        "--log", str(server.log_path))

    settings = {s["env"]: s for s in doc["settings"]}
    for name in ("OLLAMA_NUM_PARALLEL", "OLLAMA_KEEP_ALIVE", "OLLAMA_MAX_LOADED_MODELS"):
        assert settings[name]["status"] == "effective", settings[name]
        assert settings[name]["observed"] == ENV[name]
    assert settings["OLLAMA_CONTEXT_LENGTH"]["status"] == "not effective"
    assert "0.5.13" in settings["OLLAMA_CONTEXT_LENGTH"]["why"]  # 0.5.4 does not read it
    assert settings["OLLAMA_KV_CACHE_TYPE"]["status"] == "not effective"
    assert "flash attention disabled" in settings["OLLAMA_KV_CACHE_TYPE"]["why"]
    assert doc["server"]["pid"] == server.pid
    assert doc["server"]["restarted_since_apply"] is True
    assert doc["server"]["runner_parallel"] == 2  # the benchmark loaded the model
    assert [m["name"] for m in doc["loaded_models"]] == [f"{MODEL}:latest"]
    bench = doc["benchmark"]
    assert bench["model"] == MODEL and bench["baseline"] == str(path)
    assert {c["benchmark"] for c in bench["comparisons"]} >= {"short_completion", "concurrent"}
    # One iteration a side (the baseline above, verify.iterations: 1) gives each metric at most
    # 4 values (the concurrent scenario's 4 clients), under baseline.MIN_SAMPLES: no metric may
    # give a verdict, whatever the timings, so the benchmark is inconclusive and cannot fail verify.
    assert all(min(c["n_baseline"], c["n_new"]) < baseline.MIN_SAMPLES
               for c in bench["comparisons"]), bench["comparisons"]
    assert {c["status"] for c in bench["comparisons"]} == {"inconclusive"}
    assert bench["status"] == "inconclusive"
    assert (code, doc["status"], doc["exit_code"]) == (4, "not_effective", 4)

    # The text report of the same document: one line per setting, the before/after table.
    configure(color="never", verbosity=0, json_mode=False)
    verify_report.render(doc, OUT)
    text = capsys.readouterr().out
    assert "OLLAMA_KV_CACHE_TYPE" in text and "decode tok/s" in text and "TTFT ms" in text
    assert "(exit 4)" in text


def test_server_not_restarted_after_apply(ollama_server: ServerFactory,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    server = ollama_server(model=False)  # started before velollm wrote the file
    wanted = {k: ENV[k] for k in ("OLLAMA_NUM_PARALLEL", "OLLAMA_KEEP_ALIVE")}
    _apply_shell(wanted)

    code, doc = _verify(capsys, "--host", server.base_url, "--log", str(server.log_path),
                        "--skip-benchmark")

    assert code == 4
    assert doc["server"]["restarted_since_apply"] is False
    assert doc["benchmark"]["status"] == "skipped"
    for setting in doc["settings"]:
        assert setting["status"] == "not effective"
        assert "restart `ollama serve`" in setting["why"]
    # What the server has instead: its log shows the default it parsed.
    keep = next(s for s in doc["settings"] if s["env"] == "OLLAMA_KEEP_ALIVE")
    assert keep["observed"] not in (None, ENV["OLLAMA_KEEP_ALIVE"])


def test_effective_without_log_then_overridden_by_a_request(
        ollama_server: ServerFactory, capsys: pytest.CaptureFixture[str]) -> None:
    wanted = {"OLLAMA_NUM_PARALLEL": "3", "OLLAMA_KEEP_ALIVE": "30m"}
    server = ollama_server(_sourced(_apply_shell(wanted)))

    code, doc = _verify(capsys, "--host", server.base_url, "--skip-benchmark")

    assert code == 0 and doc["status"] == "ok"
    assert [s["status"] for s in doc["settings"]] == ["effective", "effective"]
    assert doc["server"]["log"] is None

    # A client asks for its own keep_alive: the model now outlives the server's setting.
    client = OllamaClient(server.base_url)
    list(client.generate(MODEL, "Hello", {"num_predict": 2}, keep_alive="2h"))
    client.close()
    code, doc = _verify(capsys, "--host", server.base_url, "--skip-benchmark")
    keep = next(s for s in doc["settings"] if s["env"] == "OLLAMA_KEEP_ALIVE")
    assert keep["status"] == "not effective" and "request's keep_alive" in keep["why"]
    assert code == 4
