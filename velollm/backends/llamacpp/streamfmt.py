"""llama-server's /completion stream for the load generator: `data: {...}` lines, the last with
"stop": true and the server's timings (predicted_n, predicted_ms); no [DONE] line."""

from __future__ import annotations

import json
from typing import Any

from velollm.backends.wire import StreamEvent


class LlamaStream:
    def request(self, model: str, prompt: str, n_predict: int) -> tuple[str, dict[str, Any]]:
        del model  # llama-server serves the model it was started with (router mode: by alias)
        return "/completion", {"prompt": prompt, "n_predict": n_predict, "stream": True,
                               "temperature": 0, "cache_prompt": False}

    def parse(self, line: bytes) -> StreamEvent | None:
        if not line.startswith(b"data: "):
            return None
        data = json.loads(line[6:])
        if not isinstance(data, dict):
            raise TypeError("a stream line that is not an object")
        if "error" in data:
            return StreamEvent(error=str(data["error"])[:200])
        piece = data.get("content")
        text = piece if isinstance(piece, str) else ""
        if data.get("stop") is True:
            found = data.get("timings")
            t: dict[str, Any] = found if isinstance(found, dict) else {}
            n, ms = t.get("predicted_n"), t.get("predicted_ms")
            return StreamEvent(text, True, n if isinstance(n, int) else None,
                               ms if isinstance(ms, (int, float)) and ms > 0 else None)
        return StreamEvent(text) if text else None
