"""`velollm verify` checks the per-model parameters apply wrote into Modelfiles, against what the
server says the model has (/api/show) and runs it with (/api/ps context_length, Ollama >= 0.10).
The HTTP boundary is scripted here; test_apply_verify_realserver.py has the real-server proof."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.cli.cliutil import cli
from velollm.backends.ollama.modelparams import parse_parameters
from velollm.backends.ollama.targets import render_target
from velollm.io.fileops import apply_files

# As /api/show prints them (Go's %-30s %#v), stop sequences one line each.
SHOWN = ('num_ctx                        1024\n'
         'stop                           "<|user|>"\n'
         'stop                           "<|end|>"\n'
         'temperature                    0.7')
MODELS = {"tiny": {"num_ctx": "1024"}}


def _apply(models: dict[str, dict[str, Any]], *, when: float | None = None) -> Path:
    """What `velollm apply` leaves behind: the Modelfiles, and state with the applied settings."""
    files = render_target("modelfile", {}, models=models)
    apply_files(files, settings={"env": {}, "models": models, "target": "shell",
                                 "backend": "ollama"})
    if when is not None:
        os.utime(files[0].path, (when, when))
    return files[0].path


def _serve(httpserver: HTTPServer, *, parameters: str | None, context: int | None = None,
           modified: str = "2024-01-01T00:00:00.000000001Z") -> str:
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.10.1"})
    httpserver.expect_request("/api/tags").respond_with_json(
        {"models": [{"name": "tiny:latest", "size": 1, "digest": "d", "modified_at": modified}]})
    if parameters is None:
        httpserver.expect_request("/api/show").respond_with_json(
            {"error": "model 'tiny' not found"}, status=404)
    else:
        httpserver.expect_request("/api/show", json={"model": "tiny"}).respond_with_json(
            {"parameters": parameters})
    loaded = [] if context is None else [{"name": "tiny:latest", "size": 1, "size_vram": 0,
                                          "expires_at": "2030-01-01T00:00:00Z",
                                          "context_length": context}]
    httpserver.expect_request("/api/ps").respond_with_json({"models": loaded})
    return httpserver.url_for("/").rstrip("/")


def _verify(capsys: pytest.CaptureFixture[str], url: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(capsys, "verify", "--host", url, "--skip-benchmark", "--json")
    return code, json.loads(out)


def test_parameters_without_ollama_create_are_not_effective(
        httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    modelfile = _apply(MODELS)
    url = _serve(httpserver, parameters="stop                           \"<|user|>\"")

    code, doc = _verify(capsys, url)

    assert code == 4 and doc["status"] == "not_effective"
    assert doc["settings"] == []  # the existing keys stay; the model rows are beside them
    [row] = doc["model_parameters"]
    assert row == {"model": "tiny", "parameter": "num_ctx", "wanted": "1024", "observed": None,
                   "status": "not effective", "why": row["why"]}
    assert row["why"].startswith("`ollama create` has not been run: run `ollama create tiny "
                                 f"-f {modelfile}`")
    assert "velollm apply --create-models" in row["why"]

    code, out, _ = cli(capsys, "verify", "--host", url, "--skip-benchmark")
    assert code == 4
    assert any(line.split()[:4] == ["tiny", "num_ctx", "1024", "-"] for line in out.splitlines())
    assert "not effective: tiny num_ctx" in out


def test_parameters_the_model_has_are_effective(httpserver: HTTPServer,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _apply({"tiny": {"num_ctx": "1024", "temperature": "0.70", "stop": ("<|end|>", "<|user|>")}})
    url = _serve(httpserver, parameters=SHOWN)

    code, doc = _verify(capsys, url)

    assert code == 0, doc
    rows = {r["parameter"]: r for r in doc["model_parameters"]}
    assert {r["status"] for r in rows.values()} == {"effective"}
    assert rows["stop"]["observed"] == '"<|user|>", "<|end|>"'  # a set: the order is the server's
    assert rows["temperature"]["observed"] == "0.7"  # compared as numbers


def test_loaded_with_another_context_is_not_effective(httpserver: HTTPServer,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _apply(MODELS)
    url = _serve(httpserver, parameters=SHOWN, context=4096)

    code, doc = _verify(capsys, url)

    [row] = doc["model_parameters"]
    assert code == 4
    assert (row["status"], row["observed"]) == ("not effective", "4096")
    assert "loaded with context_length 4096" in row["why"]


def test_loaded_with_the_context_is_effective(httpserver: HTTPServer,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _apply(MODELS)
    url = _serve(httpserver, parameters=SHOWN, context=1024)

    code, doc = _verify(capsys, url)

    assert code == 0
    assert doc["model_parameters"][0]["why"] == "the model has this value, and is loaded with it"


def test_a_model_replaced_after_apply_and_a_missing_model(
        httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    _apply(MODELS, when=1_000_000_000.0)  # written in 2001, the model changed in 2024
    url = _serve(httpserver, parameters="")

    code, doc = _verify(capsys, url)
    assert code == 4
    assert "replaced after velollm wrote its parameters" in doc["model_parameters"][0]["why"]

    httpserver.clear()
    url = _serve(httpserver, parameters=None)
    code, doc = _verify(capsys, url)
    assert code == 4
    assert doc["model_parameters"][0]["why"].startswith("the server has no model tiny")


def test_parse_show_parameters() -> None:
    assert parse_parameters(SHOWN) == {"num_ctx": ("1024",), "stop": ("<|user|>", "<|end|>"),
                                       "temperature": ("0.7",)}
    assert parse_parameters('stop "a\\"b"\n\nbroken') == {"stop": ('a"b',)}
