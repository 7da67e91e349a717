"""The Ollama client against real sockets: pytest-httpserver, plus raw sockets for broken streams."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.realserver import free_port
from velollm.backends.ollama.client import Done, GenerationError, OllamaClient, Token
from velollm.errors import ServerResponseError, ServerUnreachableError

# A final chunk exactly as Ollama 0.5.4 sends it: whole-ms eval_duration, zero durations omitted.
FINAL = {"model": "tiny", "response": "", "done": True, "done_reason": "length",
         "total_duration": 37757165, "load_duration": 1862601, "prompt_eval_count": 13,
         "eval_count": 3, "eval_duration": 2000000}


def ndjson(*objects: dict[str, object]) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def client_for(httpserver: HTTPServer, **kwargs: float) -> OllamaClient:
    return OllamaClient(httpserver.url_for("/").rstrip("/"), **kwargs)  # type: ignore[arg-type]


def test_metadata_endpoints(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.4"})
    httpserver.expect_request("/api/tags").respond_with_json(
        {"models": [{"name": "tiny:latest", "size": 545000, "digest": "ab", "details": {}}]})
    httpserver.expect_request("/api/show", method="POST", json={"model": "tiny"}).respond_with_json(
        {"parameters": "num_ctx 4096", "model_info": {"llama.block_count": 2},
         "capabilities": ["completion"]})
    httpserver.expect_request("/api/ps").respond_with_json(
        {"models": [{"name": "tiny:latest", "size": 23661056, "size_vram": 0,
                     "expires_at": "2026-01-01T00:00:00Z"}]})
    client = client_for(httpserver)
    assert client.version() == "0.5.4"
    assert [t.name for t in client.tags()] == ["tiny:latest"]
    show = client.show("tiny")
    assert show.parameters == "num_ctx 4096"
    assert show.model_info == {"llama.block_count": 2}
    assert show.capabilities == ("completion",)
    (running,) = client.ps()
    assert (running.size, running.size_vram, running.context_length) == (23661056, 0, None)


def test_server_down_is_one_clear_message_after_bounded_retries() -> None:
    slept: list[float] = []
    client = OllamaClient(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.1,
                          sleep=slept.append)
    with pytest.raises(ServerUnreachableError) as info:
        client.version()
    assert info.value.message == (f"Ollama is not reachable at {client.base_url} — "
                                  "start it with `ollama serve`")
    assert slept == [0.1, 0.2]  # two retries with doubling backoff, then give up


def test_wildcard_host_is_dialled_on_loopback() -> None:
    assert OllamaClient("http://0.0.0.0:11434/").base_url == "http://127.0.0.1:11434"


def test_http_error_shows_status_and_ollama_error_text(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/generate").respond_with_json(
        {"error": "server busy, please try again.  maximum pending requests exceeded"},
        status=503)
    with pytest.raises(ServerResponseError) as info:
        client_for(httpserver).generate("tiny", "hi")
    assert info.value.status == 503
    assert "HTTP 503: server busy, please try again." in info.value.message
    assert info.value.hint is not None and "OLLAMA_MAX_QUEUE" in info.value.hint


def test_http_error_without_json_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/show").respond_with_data("gateway exploded", status=502)
    with pytest.raises(ServerResponseError, match="HTTP 502: gateway exploded"):
        client_for(httpserver).show("tiny")


def test_missing_model_names_the_fix(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/show").respond_with_json(
        {"error": "model 'nope' not found"}, status=404)
    with pytest.raises(ServerResponseError) as info:
        client_for(httpserver).show("nope")
    assert "model 'nope' not found" in info.value.message
    assert info.value.hint is not None and "ollama pull" in info.value.hint


def test_body_that_is_not_json(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/version").respond_with_data("<html>proxy</html>")
    with pytest.raises(ServerResponseError, match="not JSON"):
        client_for(httpserver).version()


def test_stream_yields_tokens_then_done(httpserver: HTTPServer) -> None:
    body = ndjson({"response": "a", "done": False}, {"response": "b c", "done": False}, FINAL)
    httpserver.expect_request("/api/generate", method="POST").respond_with_data(body)
    chunks = list(client_for(httpserver).generate("tiny", "hi", {"num_predict": 3}))
    assert chunks[:2] == [Token("a"), Token("b c")]
    assert isinstance(chunks[2], Done)
    metrics = chunks[2].metrics
    assert (metrics.eval_count, metrics.eval_duration_ns) == (3, 2000000)
    assert metrics.prompt_eval_duration_ns is None  # omitted by 0.5.4 when zero
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["stream"] is True and sent["options"] == {"num_predict": 3}


@pytest.mark.parametrize(("body", "kind"), [
    (ndjson({"response": "a", "done": False}, {"response": "a", "done": False}), "incomplete"),
    (ndjson({"response": "a", "done": False}) + "{not json\n", "malformed"),
    (ndjson({"response": "a", "done": False}) + "[1, 2]\n", "malformed"),
    (ndjson({"error": "llama runner process has terminated"}), "server_error"),
    ("", "cut"),
])
def test_stream_failures_are_typed(httpserver: HTTPServer, body: str, kind: str) -> None:
    httpserver.expect_request("/api/generate").respond_with_data(body)
    with pytest.raises(GenerationError) as info:
        list(client_for(httpserver).generate("tiny", "hi"))
    assert info.value.kind == kind


def _raw_server(script: bytes, hold_s: float) -> Iterator[str]:
    """A socket that writes `script` to the first client, then holds it open `hold_s` or closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(script)
        time.sleep(hold_s)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    thread.join(timeout=5)
    listener.close()


def _chunked_head() -> bytes:
    line = json.dumps({"response": "a", "done": False}).encode() + b"\n"
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(line):x}\r\n".encode() + line + b"\r\n")


def test_stream_cut_mid_chunked_body() -> None:
    for url in _raw_server(_chunked_head() + b"40\r\n{\"resp", hold_s=0):
        chunks = OllamaClient(url).generate("tiny", "hi")
        assert next(chunks) == Token("a")
        with pytest.raises(GenerationError) as info:
            list(chunks)
        assert info.value.kind == "cut"


def test_stalled_stream_times_out_instead_of_hanging() -> None:
    for url in _raw_server(_chunked_head(), hold_s=1):
        chunks = OllamaClient(url, read_timeout=0.3).generate("tiny", "hi")
        assert next(chunks) == Token("a")
        with pytest.raises(GenerationError) as info:
            list(chunks)
        assert info.value.kind == "timeout"
