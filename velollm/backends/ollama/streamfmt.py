"""Ollama's /api/generate stream for the load generator: NDJSON, one object per chunk, the last
with "done": true and the server's counts (eval_duration in ns; whole ms on 0.5.4)."""

from __future__ import annotations

import json
from typing import Any

from velollm.backends.wire import StreamEvent


class OllamaStream:
    def request(self, model: str, prompt: str, n_predict: int) -> tuple[str, dict[str, Any]]:
        return "/api/generate", {"model": model, "prompt": prompt, "stream": True,
                                 "options": {"num_predict": n_predict, "temperature": 0}}

    def parse(self, line: bytes) -> StreamEvent | None:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise TypeError("a stream line that is not an object")
        if "error" in data:
            return StreamEvent(error=str(data["error"])[:200])
        piece = data.get("response")
        text = piece if isinstance(piece, str) else ""
        if data.get("done") is True:
            count, ns = data.get("eval_count"), data.get("eval_duration")
            return StreamEvent(text, True, count if isinstance(count, int) else None,
                               ns / 1e6 if isinstance(ns, (int, float)) and ns > 0 else None)
        return StreamEvent(text) if text else None
