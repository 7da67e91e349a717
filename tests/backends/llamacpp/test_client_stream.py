"""LlamaServerClient's edges against a socket that answers what llama-server might (unit tests of
the boundary, pytest-httpserver; the real server is in test_client_realserver.py)."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer

from velollm.backends.llamacpp.client import LlamaServerClient, ServerLoadingError
from velollm.backends.wire import Done, GenerationError, Token
from velollm.errors import ServerResponseError

TIMINGS = {"prompt_n": 5, "prompt_ms": 50.0, "predicted_n": 4, "predicted_ms": 100.0}


def client(httpserver: HTTPServer, api: str = "chat") -> LlamaServerClient:
    return LlamaServerClient(httpserver.url_for("/").rstrip("/"), retries=0,
                             api=api)  # type: ignore[arg-type]


def sse(*chunks: object) -> str:
    return "".join(f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks)


def chat(content: str | None = None, finish: str | None = None, **extra: object) -> object:
    delta = {} if content is None else {"content": content}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def test_chat_stream_to_tokens_and_the_servers_timings(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_data(
        sse(chat(None), chat("Hel"), chat("lo"), chat(None, "length", timings=TIMINGS),
            "[DONE]"), content_type="text/event-stream")
    chunks = list(client(httpserver).generate("m", "hi", {"num_predict": 4, "seed": 1}))
    assert chunks[:2] == [Token("Hel"), Token("lo")]
    done = chunks[-1]
    assert isinstance(done, Done)
    m = done.metrics
    assert (m.eval_count, m.eval_duration_ns, m.prompt_eval_count, m.prompt_eval_duration_ns,
            m.total_duration_ns, m.done_reason) == (4, 100_000_000, 5, 50_000_000,
                                                    150_000_000, "length")
    body = json.loads(httpserver.log[0][0].data)
    assert body["max_tokens"] == 4 and body["seed"] == 1 and "num_predict" not in body
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_completion_stream_and_one_token_has_no_decode_time(httpserver: HTTPServer) -> None:
    one = {**TIMINGS, "predicted_n": 1, "predicted_ms": 0.001}
    httpserver.expect_request("/completion", method="POST").respond_with_data(
        sse({"content": "x", "stop": False}, {"content": "", "stop": True, "stop_type": "eos",
                                               "timings": one}))
    *_, done = client(httpserver, "completion").generate("", "p", {"num_predict": 9})
    assert isinstance(done, Done)
    assert done.metrics.eval_count == 1 and done.metrics.eval_duration_ns is None
    assert done.metrics.done_reason == "stop"
    assert json.loads(httpserver.log[0][0].data)["n_predict"] == 9


@pytest.mark.parametrize(("body", "kind"), [
    (sse(chat("a"), {"error": {"code": 500, "message": "boom"}}), "server_error"),
    ("error: {\"code\": 500, \"message\": \"boom\"}\n\n", "server_error"),
    (sse(chat("a")) + "data: {not json\n\n", "malformed"),
    (sse(chat("a")) + "data: [DONE]\n\n", "incomplete"),  # no chunk with the timings
    ("", "cut"),
])
def test_bad_streams_are_generation_errors(httpserver: HTTPServer, body: str, kind: str) -> None:
    httpserver.expect_request("/v1/chat/completions").respond_with_data(body)
    with pytest.raises(GenerationError) as exc:
        list(client(httpserver).generate("", "p"))
    assert exc.value.kind == kind


def test_loading_503_and_other_errors(httpserver: HTTPServer) -> None:
    loading = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
    httpserver.expect_request("/health").respond_with_json(loading, status=503)
    httpserver.expect_request("/props").respond_with_json(loading, status=503)
    httpserver.expect_request("/slots").respond_with_json(
        {"error": {"code": 501, "message": "This server does not support slots endpoint."}},
        status=501)
    httpserver.expect_request("/metrics").respond_with_data("<html>proxy</html>")
    c = client(httpserver)
    with pytest.raises(ServerLoadingError, match="still loading its model"):
        c.health()
    with pytest.raises(ServerLoadingError):
        c.version()
    with pytest.raises(ServerResponseError) as slots:
        c.slots()
    assert slots.value.status == 501
    with pytest.raises(ServerResponseError, match="not Prometheus text"):
        c.metrics()


def test_build_numbers(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/props").respond_with_json({"build_info": "b6123-abc1234"})
    assert client(httpserver).build() == "b6123"
