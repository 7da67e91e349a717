"""`velollm benchmark` and the client against a real Ollama server with the tiny model."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
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


def _ns(created_at: str) -> int:
    """Ollama's created_at (Go RFC 3339, nanoseconds) as integer ns since the epoch."""
    base, _, fraction = created_at.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(base).replace(tzinfo=timezone.utc).timestamp()
    return int(seconds) * 10**9 + int(fraction.ljust(9, "0")[:9])


def _answered(base_url: str, n: int, num_predict: int) -> list[tuple[int, int]]:
    """Send n streamed requests at once; for each, when the server produced its first and its last
    chunk (created_at: the server's own clock, so client threads' scheduling cannot blur it)."""
    start = threading.Barrier(n)
    spans: dict[int, tuple[int, int]] = {}

    def one(i: int) -> None:
        body = json.dumps({"model": MODEL, "prompt": f"Request {i}. Tell a story.",
                           "options": {"num_predict": num_predict, "temperature": 0,
                                       "seed": 42}}).encode()
        start.wait(timeout=60)
        request = urllib.request.Request(f"{base_url}/api/generate", body)
        with urllib.request.urlopen(request, timeout=300) as response:
            chunks = [json.loads(line) for line in response if line.strip()]
        assert chunks[-1]["done"] and chunks[-1]["eval_count"] == num_predict, chunks[-1]
        spans[i] = (_ns(chunks[0]["created_at"]), _ns(chunks[-1]["created_at"]))

    with ThreadPoolExecutor(n) as pool:
        for future in [pool.submit(one, i) for i in range(n)]:
            future.result()
    return sorted(spans.values())


def _relative_ms(spans: list[tuple[int, int]]) -> list[tuple[float, float]]:
    t0 = spans[0][0]
    return [(round((a - t0) / 1e6, 1), round((b - t0) / 1e6, 1)) for a, b in spans]


def _most_at_once(spans: list[tuple[int, int]]) -> int:
    """The most requests being answered at the same moment (a sweep over the spans)."""
    events = sorted([(first, 1) for first, _ in spans] + [(last, -1) for _, last in spans],
                    key=lambda e: (e[0], e[1]))  # a finish before a start at the same instant
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_num_parallel_4_answers_requests_together_1_one_at_a_time(
        ollama_server: ServerFactory) -> None:
    """Why more slots raise throughput, asserted without a clock threshold (speed is measured by
    benchmarks/num_parallel.py): the runner gets the slots, and requests sent together are
    answered together instead of queueing behind each other."""
    timelines, slots = {}, {}
    for parallel in ("1", "4"):
        server = ollama_server({"OLLAMA_NUM_PARALLEL": parallel})
        timelines[parallel] = _answered(server.base_url, 4, 256)
        slots[parallel] = re.findall(r'msg="starting llama server".*--parallel (\d+)', server.log())
        ollama_server.kill(server)  # the next server gets the CPU to itself

    assert slots == {"1": ["1"], "4": ["4"]}
    # One slot: each request starts being answered only after the one before it has finished.
    assert _most_at_once(timelines["1"]) == 1, _relative_ms(timelines["1"])
    # Four slots: a request is being answered while another is still in progress.
    assert _most_at_once(timelines["4"]) >= 2, _relative_ms(timelines["4"])


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
