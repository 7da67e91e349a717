"""`velollm benchmark` against pytest-httpserver: the paths a tiny real model cannot produce on demand.

The real-server proof is in test_bench_realserver.py; here the HTTP boundary is scripted.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from velollm.main import main
from velollm.resources import load_schema

# As 0.5.4 sends it when decoding took under a millisecond: eval_duration omitted.
DONE = {"done": True, "done_reason": "length", "total_duration": 900000,
        "load_duration": 100000, "prompt_eval_count": 9, "eval_count": 32}


def _serve(httpserver: HTTPServer, generate: object) -> str:
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.4"})
    httpserver.expect_request("/api/tags").respond_with_json(
        {"models": [{"name": "m:latest", "size": 1, "digest": "d"}]})
    httpserver.expect_request("/api/show").respond_with_json({"parameters": "num_ctx 2048"})
    httpserver.expect_request("/api/ps").respond_with_json({"models": []})
    httpserver.expect_request("/api/generate").respond_with_handler(generate)  # type: ignore[arg-type]
    return httpserver.url_for("/").rstrip("/")


def _stream(_request: Request) -> Response:
    lines = [{"response": "x", "done": False}] * 3 + [DONE]
    return Response("".join(json.dumps(x) + "\n" for x in lines))


def test_partial_run_with_busy_and_aborted_requests(httpserver: HTTPServer, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    calls = []

    def generate(request: Request) -> Response:
        calls.append(request)
        if len(calls) == 2:
            return Response(json.dumps({"error": "server busy, please try again."}), status=503)
        if len(calls) == 3:  # the token-repeat abort: no done:true, no statistics
            return Response(json.dumps({"response": "x", "done": False}) + "\n")
        return _stream(request)

    url = _serve(httpserver, generate)
    out = tmp_path / "b.json"
    rc = main(["benchmark", "--host", url, "--suite", "short_completion", "--iterations", "3",
               "--out", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(load_schema("benchmark.schema.json")).validate(doc)
    assert doc["status"] == "partial"
    errors = [s["error"] for s in doc["benchmarks"][0]["samples"] if not s["ok"]]
    assert len(errors) == 2
    assert "HTTP 503: server busy" in errors[0]
    assert errors[1].startswith("incomplete: ")
    ok = [s for s in doc["benchmarks"][0]["samples"] if s["ok"] and not s["warmup"]]
    assert ok[0]["decode_source"] in ("client", None)  # eval_duration was omitted
    assert ok[0]["eval_duration_ns"] is None
    assert "Failed requests:  2" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]  # no temp file left behind


def test_unknown_model_stops_before_timing(httpserver: HTTPServer,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    url = _serve(httpserver, _stream)
    httpserver.clear_all_handlers()
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.4"})
    httpserver.expect_request("/api/show").respond_with_json(
        {"error": "model 'nope' not found"}, status=404)
    assert main(["benchmark", "--host", url, "--model", "nope", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["errors"][0]["message"].endswith("model 'nope' not found")
    assert "ollama pull" in captured.err


def test_unknown_suite_is_a_usage_level_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark", "--suite", "nope"]) == 1
    assert "unknown benchmark suite 'nope'" in capsys.readouterr().err
