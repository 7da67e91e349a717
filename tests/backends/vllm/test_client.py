"""The vLLM client against responses recorded from a real vLLM 0.32.0 (CPU build, SmolLM2-135M
served as "smol", --max-model-len 1024, VLLM_CPU_KVCACHE_SPACE=1; data/recorded/) replayed by
pytest-httpserver: /version, /v1/models, /metrics and streamed chat and raw completions; plus
the ways a stream can break."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from velollm.backends.vllm.client import VllmClient, parse_metrics
from velollm.backends.vllm.verify import reported, server_facts
from velollm.backends.wire import Done, GenerationError, Token
from velollm.errors import ServerResponseError

RECORDED = Path(__file__).parent / "data" / "recorded"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text(encoding="utf-8")


@pytest.fixture
def client(httpserver: HTTPServer) -> VllmClient:
    httpserver.expect_request("/version").respond_with_data(recorded("version.json"),
                                                            content_type="application/json")
    httpserver.expect_request("/v1/models").respond_with_data(recorded("models.json"),
                                                              content_type="application/json")
    httpserver.expect_request("/metrics").respond_with_data(recorded("metrics.txt"))
    return VllmClient(httpserver.url_for("/").rstrip("/"))


def test_version_models_and_what_they_say(client: VllmClient) -> None:
    assert client.version() == "0.32.0"
    [tag] = client.tags()
    assert tag.name == "smol" and tag.details["max_model_len"] == 1024
    [running] = client.ps()
    assert (running.name, running.context_length) == ("smol", 1024)
    assert client.show("smol").details["max_model_len"] == 1024
    with pytest.raises(ServerResponseError, match="does not serve 'tiny'"):
        client.show("tiny")


def test_metrics_series_and_what_verify_reads_of_them(client: VllmClient) -> None:
    samples = client.metrics()
    assert all(s.name.startswith("vllm:") for s in samples)
    said = reported(client.models(), samples)
    assert said["--max-model-len"] == "1024"
    assert said["--block-size"] == "128"  # the CPU build's default
    assert said["--kv-cache-memory-bytes"] == str(1 << 30)  # VLLM_CPU_KVCACHE_SPACE=1
    facts = server_facts(samples)
    assert facts["num_gpu_blocks"] == (1 << 30) // (23_040 * 128)
    assert facts["num_requests_running"] == 0 and facts["kv_cache_usage_perc"] == 0
    # what vLLM logged: "CPU KV cache size: 46,592 tokens, Maximum concurrency for 1,024 tokens
    # per request: 45.50x", the numbers core/vllm_memory.py gives for this model and cache
    assert (facts["kv_cache_size_tokens"], facts["max_concurrency"]) == (46_592, 45.5)


def test_prometheus_text_parsing() -> None:
    text = ('# HELP vllm:x help\nvllm:x{engine="0",model_name="a \\"b\\""} 2.5\n'
            "vllm:y 1\nprocess_cpu_seconds_total 3\nvllm:bad{a=\"1\"} NaNx\n")
    got = parse_metrics(text)
    assert [(s.name, s.labels, s.value) for s in got] == [
        ("vllm:x", {"engine": "0", "model_name": 'a "b"'}, 2.5), ("vllm:y", {}, 1.0)]


def test_streamed_chat_completion_as_tokens_then_done(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_data(
        recorded("chat-stream.txt"), content_type="text/event-stream")
    client = VllmClient(httpserver.url_for("/").rstrip("/"))
    chunks = list(client.another().generate(
        "smol", "Request 0.0.\nWrite one sentence about the mountains.",
        {"temperature": 0, "seed": 42, "num_predict": 64}))
    body = json.loads(httpserver.log[0][0].get_data())
    assert body["max_tokens"] == 64 and body["stream"] is True and body["seed"] == 42
    assert body["messages"] == [{"role": "user", "content":
                                 "Request 0.0.\nWrite one sentence about the mountains."}]
    assert body["stream_options"] == {"include_usage": True} and "num_predict" not in body
    *tokens, done = chunks
    assert all(isinstance(t, Token) for t in tokens) and isinstance(done, Done)
    assert "".join(t.text for t in tokens if isinstance(t, Token)).startswith("The")
    assert (done.metrics.eval_count, done.metrics.prompt_eval_count) == (29, 44)
    assert done.metrics.done_reason == "stop" and done.metrics.eval_duration_ns is None


def test_raw_completion_sends_the_prompt_as_it_is(httpserver: HTTPServer) -> None:
    # recorded: an instruct model given a bare prompt ends at once
    httpserver.expect_request("/v1/completions", method="POST").respond_with_data(
        recorded("completions-stream.txt"), content_type="text/event-stream")
    client = VllmClient(httpserver.url_for("/").rstrip("/"), raw=True)
    *tokens, done = client.generate("smol", "Write one sentence about the sea.",
                                    {"num_predict": 16})
    assert json.loads(httpserver.log[0][0].get_data())["prompt"] == \
        "Write one sentence about the sea."
    assert tokens == [] and isinstance(done, Done)
    assert (done.metrics.eval_count, done.metrics.done_reason) == (1, "stop")


@pytest.mark.parametrize(("body", "kind"), [
    ('data: {"choices": [{"text": "a"}]}\n\n', "cut"),
    ("data: {not json\n\n", "malformed"),
    ('data: {"object": "error", "message": "boom"}\n\n', "server_error"),
])
def test_broken_streams(httpserver: HTTPServer, body: str, kind: str) -> None:
    httpserver.expect_request("/v1/completions", method="POST").respond_with_data(
        body, content_type="text/event-stream")
    client = VllmClient(httpserver.url_for("/").rstrip("/"), raw=True)
    with pytest.raises(GenerationError) as info:
        list(client.generate("smol", "x"))
    assert info.value.kind == kind
