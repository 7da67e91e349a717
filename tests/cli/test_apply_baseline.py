"""`apply --baseline`: which model it benchmarks (verify.model, else the first installed model of
velollm.yaml's models:, else the most recently modified one), checked before the plan is shown;
and naming verify.model plans nothing for that model. The server is scripted (pytest-httpserver)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.cli import hwdocs
from tests.cli.cliutil import cli

BASE = """\
version: 1
backend: ollama
profile: balanced
target: {kind: shell}
server:
  keep_alive: 30m
"""
TAGS = [{"name": "older:latest", "size": 1, "digest": "a",
         "modified_at": "2026-01-01T10:00:00.123456789+01:00"},
        {"name": "zeta:latest", "size": 1, "digest": "z",
         "modified_at": "2026-03-01T09:00:00.5Z"},
        {"name": "alpha:latest", "size": 1, "digest": "b",
         "modified_at": "2026-03-01T10:00:00.5+01:00"}]  # the same moment as zeta
DONE = {"done": True, "done_reason": "length", "total_duration": 900000, "load_duration": 1000,
        "prompt_eval_count": 9, "prompt_eval_duration": 1000000, "eval_count": 4,
        "eval_duration": 2000000}


def _stream(_request: Request) -> Response:
    return Response("".join(json.dumps(x) + "\n" for x in
                            [{"response": "x", "done": False}] * 4 + [DONE]))


def _serve(httpserver: HTTPServer, installed: set[str]) -> str:
    def show(request: Request) -> Response:
        name = json.loads(request.data)["model"]
        if name in installed or f"{name}:latest" in installed:
            return Response(json.dumps({"parameters": ""}), content_type="application/json")
        return Response(json.dumps({"error": f"model '{name}' not found"}), status=404)

    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.4"})
    httpserver.expect_request("/api/tags").respond_with_json(
        {"models": [t for t in TAGS if t["name"] in installed]})
    httpserver.expect_request("/api/show").respond_with_handler(show)
    httpserver.expect_request("/api/ps").respond_with_json({"models": []})
    httpserver.expect_request("/api/generate").respond_with_handler(_stream)
    return httpserver.url_for("/").rstrip("/")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())  # CPU only: models get num_thread
    return tmp_path


def _apply(capsys: pytest.CaptureFixture[str], url: str) -> tuple[int, str, str]:
    return cli(capsys, "apply", "--hardware", "hw.json", "--host", url, "--baseline",
               "--auto-approve")


def _baseline_model(home: Path) -> str:
    doc = json.loads((home / ".local" / "state" / "velollm" / "baseline.json").read_text())
    return str(doc["model"])


def test_a_verify_model_that_is_not_installed_fails_before_the_plan(
        project: Path, isolated_home: Path, httpserver: HTTPServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    (project / "velollm.yaml").write_text(BASE + "verify:\n  model: nope:1b\n")
    code, out, err = _apply(capsys, _serve(httpserver, {"older:latest"}))
    assert code == 1
    assert out == ""  # no plan shown, nothing asked
    assert "verify.model nope:1b is not installed on the Ollama server at" in err
    assert "ollama pull nope:1b" in err
    assert not (isolated_home / ".config" / "velollm" / "ollama.env.sh").exists()


def test_without_verify_model_the_newest_installed_model(
        project: Path, isolated_home: Path, httpserver: HTTPServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    (project / "velollm.yaml").write_text(BASE)
    code, out, err = _apply(capsys, _serve(httpserver, {t["name"] for t in TAGS}))
    assert code == 0, err
    # zeta and alpha were modified at the same moment (other time zones): by name, alpha
    assert ("baseline: benchmarking alpha:latest (the most recently modified installed model; "
            "set verify.model to choose)") in err
    assert _baseline_model(isolated_home) == "alpha:latest"
    assert "Plan: " in out


def test_a_listed_model_that_is_installed_comes_first(
        project: Path, isolated_home: Path, httpserver: HTTPServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    (project / "velollm.yaml").write_text(BASE + "models:\n  - name: missing\n  - name: older\n")
    code, _, err = _apply(capsys, _serve(httpserver, {t["name"] for t in TAGS}))
    assert code == 0, err
    assert "benchmarking older (the first installed model of velollm.yaml's models:" in err
    assert _baseline_model(isolated_home) == "older"


def test_no_model_installed_is_a_clear_error(project: Path, httpserver: HTTPServer,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (project / "velollm.yaml").write_text(BASE)
    code, out, err = _apply(capsys, _serve(httpserver, set()))
    assert (code, out) == (1, "")
    assert "has no model installed" in err and "verify.model" in err


def test_naming_verify_model_plans_nothing_for_it(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """On a CPU-only machine every planned model gets num_thread: the verify model is not one."""
    (project / "velollm.yaml").write_text(BASE + "verify:\n  model: llama3.1:8b\n")
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["model_params"] == {}
    assert [f["kind"] for f in plan["files"]] == ["shell"]  # no Modelfile
    (project / "velollm.yaml").write_text(BASE + "models:\n  - name: llama3.1:8b\n")
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--json")
    assert json.loads(out)["model_params"] == {"llama3.1:8b": {"num_thread": "8"}}  # the control
