"""vLLM's OpenAI chat stream for the load generator: `data: {...}` chunks with
choices[0].delta.content, a last chunk with `usage` (asked for with stream_options), then
`data: [DONE]`. vLLM reports no decode time of its own in the stream."""

from __future__ import annotations

import json
from typing import Any

from velollm.backends.wire import StreamEvent


class VllmStream:
    def request(self, model: str, prompt: str, n_predict: int) -> tuple[str, dict[str, Any]]:
        return "/v1/chat/completions", {
            "model": model, "messages": [{"role": "user", "content": prompt}],
            "max_tokens": n_predict, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}

    def parse(self, line: bytes) -> StreamEvent | None:
        if not line.startswith(b"data: "):
            return None
        if line.strip() == b"data: [DONE]":
            return StreamEvent(done=True)
        data = json.loads(line[6:])
        if not isinstance(data, dict):
            raise TypeError("a stream line that is not an object")
        if "error" in data:
            return StreamEvent(error=str(data["error"])[:200])
        usage = data.get("usage")
        choices = data.get("choices")
        text = ""
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            delta = choices[0].get("delta")
            piece = delta.get("content") if isinstance(delta, dict) else None
            text = piece if isinstance(piece, str) else ""
        if isinstance(usage, dict) and not choices:
            count = usage.get("completion_tokens")
            return StreamEvent(text, True, count if isinstance(count, int) else None)
        return StreamEvent(text) if text else None
