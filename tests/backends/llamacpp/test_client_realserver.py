"""LlamaServerClient against a real llama-server (tests/realllama.py): every endpoint it reads,
the stream with the server's own timings and /metrics agreeing with them, and the three ways a
server fails a client: down, still loading (503), killed mid-stream."""

from __future__ import annotations

import signal
import time

import pytest

from tests.realllama import LlamaServerFactory, get
from velollm.backends.llamacpp.client import LlamaServerClient, ServerLoadingError
from velollm.backends.wire import Done, GenerationError, Token
from velollm.errors import ServerResponseError, ServerUnreachableError

pytestmark = pytest.mark.realserver


def _generate(client: LlamaServerClient, n: int) -> tuple[str, Done]:
    text, done = "", None
    for chunk in client.generate("", "The capital of France is",
                                 {"num_predict": n, "temperature": 0, "seed": 42}):
        if isinstance(chunk, Token):
            text += chunk.text
        else:
            done = chunk
    assert done is not None
    return text, done


def test_endpoints_and_stream(llama_server: LlamaServerFactory) -> None:
    server = llama_server(args=["-c", "2048", "-np", "2", "--metrics"])
    client = LlamaServerClient(server.base_url)
    try:
        client.health()
        assert client.build() is not None and client.build().startswith("b")  # type: ignore[union-attr]
        assert client.version() == client.build()
        (tag,) = client.tags()
        assert tag.name == str(server.model) and tag.size > 50_000_000
        assert tag.details["n_params"] > 100_000_000 and tag.details["n_ctx_train"] == 8192
        shown = client.show(server.model.name)  # the file's name is enough
        assert shown.model_info["general.parameter_count"] == tag.details["n_params"]
        with pytest.raises(ServerResponseError) as missing:
            client.show("no-such-model")
        assert missing.value.status == 404
        (running,) = client.ps()
        assert running.context_length == 1024  # -c 2048 over 2 slots: per slot
        assert running.details["total_slots"] == 2
        assert [s["n_ctx"] for s in client.slots()] == [1024, 1024]

        before = client.metrics()
        assert before is not None
        text, done = _generate(client, 8)
        after = client.metrics()
        assert after is not None
        m = done.metrics
        assert text and m.eval_count is not None and 1 <= m.eval_count <= 8
        assert m.eval_duration_ns and m.prompt_eval_duration_ns and m.prompt_eval_count
        grew = after.since(before)
        # the server's counters and the stream's timings are the same measurement
        assert grew["tokens_predicted_total"] == m.eval_count
        assert grew["prompt_tokens_total"] == m.prompt_eval_count
        assert grew["tokens_predicted_seconds_total"] == pytest.approx(
            m.eval_duration_ns / 1e9, abs=0.002)
        assert m.done_reason in ("length", "stop")

        # /completion takes the prompt as it is (no chat template): the same timings and counters
        raw = LlamaServerClient(server.base_url, api="completion")
        before = after
        _text, raw_done = _generate(raw, 8)
        grew = (client.metrics() or before).since(before)
        assert grew["tokens_predicted_total"] == raw_done.metrics.eval_count
        raw.close()
    finally:
        client.close()


def test_metrics_off_is_none_and_down_is_unreachable(llama_server: LlamaServerFactory) -> None:
    server = llama_server()
    client = LlamaServerClient(server.base_url)
    assert client.metrics() is None  # started without --metrics: HTTP 501
    llama_server.stop(server)
    down = LlamaServerClient(server.base_url, retries=0)
    with pytest.raises(ServerUnreachableError, match="not reachable"):
        down.version()


def test_loading_is_a_clear_error(llama_server: LlamaServerFactory) -> None:
    """Catch the server in its loading window (measured ~0.3 s here): /health says 503."""
    for _attempt in range(5):
        server = llama_server(wait=False)
        client = LlamaServerClient(server.base_url, retries=0)
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline and status != 503:
            try:
                status = get(f"{server.base_url}/health")[0]
            except OSError:
                time.sleep(0.005)
                continue
            if status == 200:
                break
        if status != 503:
            llama_server.stop(server)
            continue
        try:
            client.health()
            client.version()
        except ServerLoadingError as exc:
            assert "still loading" in exc.message and exc.status == 503
            return
        finally:
            client.close()
            llama_server.stop(server)
    pytest.fail("never caught llama-server loading its model in five starts")


def test_killed_mid_stream_is_a_generation_error(llama_server: LlamaServerFactory) -> None:
    server = llama_server()
    client = LlamaServerClient(server.base_url)
    stream = client.generate("", "Tell me a very long story about a dragon.",
                             {"num_predict": 4000, "temperature": 0, "ignore_eos": True})
    first = next(stream)
    assert isinstance(first, Token)
    llama_server.stop(server, signal.SIGKILL)
    with pytest.raises(GenerationError) as cut:
        for _chunk in stream:
            pass
    assert cut.value.kind in ("cut", "incomplete")
