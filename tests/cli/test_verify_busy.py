"""verify on a busy machine (issue 14): a baseline recorded while other processes took the CPUs
cannot confirm a regression, so verify says `unreliable` (exit 0) with the figures, where the same
numbers from a quiet baseline are `regressed` (exit 5). A scripted Ollama (pytest-httpserver)
answers; the new run's own /proc counters are held quiet, so the machine's real load never
decides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.core.contention import Ticks
from velollm.io import contention as contention_io
from velollm.resources import load_schema

DONE = {"done": True, "done_reason": "length", "total_duration": 20000000,
        "load_duration": 100000, "prompt_eval_count": 9, "prompt_eval_duration": 1000000,
        "eval_count": 32, "eval_duration": 10000000}  # durations within the wall time of a fake
BUSY = {"cpus": 8, "load_before": 6.5, "load_after": 7.9, "server_pid": 4242,
        "server_cpu_share": 0.1, "client_cpu_share": 0.01, "other_cpu_share": 0.43,
        "steal_share": 0.0}


def _stream(_request: Request) -> Response:
    lines = [{"response": "x", "done": False}] * 3 + [DONE]
    return Response("".join(json.dumps(x) + "\n" for x in lines))


@pytest.fixture
def url(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> str:
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.4"})
    httpserver.expect_request("/api/tags").respond_with_json(
        {"models": [{"name": "tiny:latest", "size": 1, "digest": "d"}]})
    httpserver.expect_request("/api/show").respond_with_json({"parameters": "num_ctx 2048"})
    httpserver.expect_request("/api/ps").respond_with_json({"models": []})
    httpserver.expect_request("/api/generate").respond_with_handler(_stream)
    readings = iter(range(10**6))

    def quiet(server_pid: int | None, *_: Any, **__: Any) -> Ticks:
        n = next(readings) * 1000  # 1000 ticks between readings, all idle
        return Ticks(n, n, 0, None, 0, 0.2)

    monkeypatch.setattr(contention_io, "ticks", quiet)
    return httpserver.url_for("/").rstrip("/")


def _faster_baseline(path: Path, contention: dict[str, Any] | None) -> None:
    """The recorded run, twice as fast as the server answers now."""
    doc = json.loads(path.read_text())
    for bench in doc["benchmarks"]:
        for s in bench["samples"]:
            if s["decode_tps"]:
                s["decode_tps"] *= 2
        for r in bench["rounds"]:
            r["aggregate_tps"] *= 2
    doc["contention"] = contention
    jsonschema.Draft202012Validator(load_schema("benchmark.schema.json")).validate(doc)
    path.write_text(json.dumps(doc))


def test_regression_against_a_busy_baseline_is_unreliable(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    code, _, err = cli(capsys, "benchmark", "--host", url, "--model", "tiny", "--suite", "quick",
                       "--iterations", "5", "--out", "base.json")
    assert code == 0, err
    recorded = json.loads((tmp_path / "base.json").read_text())
    assert recorded["contention"]["other_cpu_share"] == 0.0  # measured, and quiet
    assert "busy" not in err
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware(ollama_version="0.5.4"))
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\nprofile: balanced\n"
        f"target: {{kind: shell, path: {tmp_path / 'ollama.env.sh'}}}\n"
        "server: {max_queue: 64}\nverify: {iterations: 5}\n")
    code, _, err = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")
    assert code == 0, err

    _faster_baseline(tmp_path / "base.json", None)  # a quiet baseline: confirmed
    code, out, _ = cli(capsys, "verify", "--host", url, "--baseline", "base.json", "--json")
    assert (code, json.loads(out)["benchmark"]["status"]) == (5, "regressed")

    _faster_baseline(tmp_path / "base.json", BUSY)
    code, out, _ = cli(capsys, "verify", "--host", url, "--baseline", "base.json", "--json")
    bench = json.loads(out)["benchmark"]
    assert (code, bench["status"]) == (0, "unreliable")
    assert bench["contention"]["baseline"] == BUSY
    assert bench["unreliable"].startswith("the baseline: other processes used 43% of the CPU")
    code, out, _ = cli(capsys, "verify", "--host", url, "--baseline", "base.json")
    assert code == 0
    verdict = " ".join(out.split())
    assert "slower, but unreliable: measured on a busy machine (the baseline: other processes " \
           "used 43% of the CPU time (more than 20%), load average 7.9 on 8 CPUs); rerun " \
           "verify when the machine is quiet (exit 0)" in verdict, out
