"""`velollm benchmark` and the client against a real Ollama server with the tiny model."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import jsonschema
import pytest

from tests.realserver import MODEL, ServerFactory, free_port
from velollm.backends.ollama.client import GenerationError, OllamaClient, Token
from velollm.bench.runner import run_request, run_scenario
from velollm.bench.suites import Scenario
from velollm.errors import ServerResponseError, ServerUnreachableError
from velollm.main import main
from velollm.resources import load_schema

pytestmark = pytest.mark.realserver


def test_suite_end_to_end(ollama_server: ServerFactory, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    server = ollama_server()
    out = tmp_path / "results" / "bench.json"
    rc = main(["benchmark", "--host", server.base_url, "--model", MODEL, "--suite", "quick",
               "--concurrency", "2", "--out", str(out), "--json"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text(encoding="utf-8"))
    assert printed == written
    jsonschema.Draft202012Validator(load_schema("benchmark.schema.json")).validate(written)
    assert written["status"] == "ok"
    assert written["server"]["version"]
    names = [b["name"] for b in written["benchmarks"]]
    assert names == ["short_completion", "medium_completion", "code_generation", "long_prompt",
                     "concurrent"]
    for bench in written["benchmarks"]:
        warmups = [s for s in bench["samples"] if s["warmup"]]
        measured = [s for s in bench["samples"] if not s["warmup"]]
        assert len(warmups) == bench["concurrency"]  # one warm-up request (or round)
        assert len(measured) == 2 * bench["concurrency"]
        assert all(s["ok"] and s["eval_count"] > 0 and s["ttft_s"] > 0 for s in measured)
        assert bench["summaries"]["decode_tps"]["n"] == len(measured)
        assert all(s["load_s"] is not None and s["load_s"] >= 0 for s in measured)
    long_prompt = written["benchmarks"][3]["samples"][-1]
    assert long_prompt["prompt_eval_count"] > 500 and long_prompt["prefill_tps"] > 0
    assert len(written["benchmarks"][4]["rounds"]) == 2
    assert written["summary"]["total_tokens"] == sum(
        s["eval_count"] for b in written["benchmarks"] for s in b["samples"] if not s["warmup"])
    assert written["settings"]["loaded"]["size"] > 0
    # No measured run paid for a model load: options never change between requests, so the
    # server started its model runner once, for the warm-up, and never reloaded it.
    runner_starts = [line for line in server.log().splitlines()
                     if 'msg="starting llama server"' in line]
    assert len(runner_starts) == 1, runner_starts


def test_console_report(ollama_server: ServerFactory,
                        capsys: pytest.CaptureFixture[str]) -> None:
    server = ollama_server()
    assert main(["benchmark", "--host", server.base_url, "--suite", "short_completion",
                 "--iterations", "2"]) == 0
    captured = capsys.readouterr()
    assert "benchmarking tiny" in captured.err  # default model: the first installed one
    assert re.search(r"^short_completion +2/2 ", captured.out, re.MULTILINE)
    for label in ("Average tokens/s:", "Average TTFT:", "Total tokens:     64"):
        assert label in captured.out


def _aggregate(factory: ServerFactory, parallel: str) -> float:
    server = factory({"OLLAMA_NUM_PARALLEL": parallel})
    scenario = Scenario("concurrent", "Write one sentence about the mountains.", 256,
                        concurrency=4)
    client = OllamaClient(server.base_url)
    result = run_scenario(client, lambda: OllamaClient(server.base_url), MODEL, scenario,
                          iterations=3, warmup=1)
    assert all(r.failed == 0 for r in result.rounds)
    factory.kill(server)
    return statistics.median(r.aggregate_tps for r in result.rounds)


def test_server_down_is_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["benchmark", "--host", url]) == 1
    err = capsys.readouterr().err
    assert f"Ollama is not reachable at {url} — start it with `ollama serve`" in err
    assert "Traceback" not in err


def test_killed_mid_stream_is_a_clear_result(ollama_server: ServerFactory) -> None:
    server = ollama_server()
    client = OllamaClient(server.base_url, retries=0)
    long_run = Scenario("long", "Tell a very long story.", 100000)
    calls = []

    def clock() -> float:  # kills the server when the first token arrives
        calls.append(None)
        if len(calls) == 2:
            ollama_server.kill(server)
        return float(len(calls))

    sample = run_request(client, MODEL, long_run, 0, clock=clock)
    assert not sample.ok
    assert sample.error is not None and sample.error.startswith("cut: ")
    with pytest.raises(ServerUnreachableError, match="not reachable"):
        client.version()


def test_stream_cut_through_the_client(ollama_server: ServerFactory) -> None:
    server = ollama_server()
    chunks = OllamaClient(server.base_url).generate(MODEL, "Tell a story.",
                                                    {"num_predict": 100000})
    assert isinstance(next(chunks), Token)
    ollama_server.kill(server)
    with pytest.raises(GenerationError) as info:
        list(chunks)
    assert info.value.kind == "cut"


def test_full_queue_gives_503_samples_not_a_crash(ollama_server: ServerFactory) -> None:
    server = ollama_server({"OLLAMA_MAX_QUEUE": "1", "OLLAMA_NUM_PARALLEL": "1"})
    client = OllamaClient(server.base_url)
    scenario = Scenario("crowd", "Write one sentence about the sea.", 256, concurrency=6)
    result = run_scenario(client, lambda: OllamaClient(server.base_url), MODEL, scenario,
                          iterations=1, warmup=1)
    failed = [s for s in result.samples if not s.ok]
    assert failed, "OLLAMA_MAX_QUEUE=1 with 6 concurrent requests should refuse some"
    assert all("HTTP 503" in (s.error or "") and "server busy" in (s.error or "")
               for s in failed)
    assert any(s.ok for s in result.samples)
    with pytest.raises(ServerResponseError, match="not found"):
        client.show("no-such-model")
