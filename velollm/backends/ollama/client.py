"""Every call to the Ollama API, through velollm/io/http.py (deadlines, size caps, no redirects).

What Ollama 0.5.4 really sends (shared/realrt/README.md, "API quirks"): `eval_duration` and
`prompt_eval_duration` are whole milliseconds and omitted when zero; a token repeated 30+ times ends
the stream with `"done": false` and no statistics. Both are handled here, never guessed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from velollm.backends.ollama.host import connect_url
from velollm.backends.wire import (
    Done,
    GenerationError,
    Metrics,
    ModelDetails,
    ModelTag,
    RunningModel,
    Token,
)
from velollm.errors import ServerResponseError, ServerTimeoutError, ServerUnreachableError
from velollm.io.http import Http, Limits

_STATUS_HINTS = {
    404: "check the model name with `ollama list`, or pull it with `ollama pull MODEL`",
    503: "the server's request queue is full (OLLAMA_MAX_QUEUE); retry later or use fewer "
         "concurrent requests",
}


@dataclass
class OllamaClient:
    base_url: str
    connect_timeout: float = 2.0
    read_timeout: float = 120.0
    retries: int = 2  # extra attempts after a failed connect, never after a request was answered
    backoff: float = 0.25  # seconds, doubled per attempt
    sleep: Callable[[float], None] = time.sleep
    # base_url -> the server's pid (the backend's process lookup, kept out of the HTTP client)
    find_pid: Callable[[str], int | None] | None = None

    def __post_init__(self) -> None:
        self.base_url = connect_url(self.base_url.rstrip("/"))
        self._http = Http(self.base_url, "Ollama",
                          Limits(connect_s=self.connect_timeout, deadline_s=self.read_timeout),
                          retries=self.retries, backoff=self.backoff, sleep=self.sleep,
                          unreachable=self.unreachable)

    # -- endpoints -----------------------------------------------------------------------
    def version(self) -> str:
        return str(self._get_json("GET", "/api/version").get("version", ""))

    def tags(self) -> list[ModelTag]:
        return [ModelTag(_text(m.get("name")), _int(m.get("size")), _text(m.get("digest")),
                         _dict(m.get("details")), _text(m.get("modified_at")))
                for m in _objects(self._get_json("GET", "/api/tags").get("models"))]

    def show(self, model: str) -> ModelDetails:
        d = self._get_json("POST", "/api/show", json={"model": model})
        caps = d.get("capabilities")
        return ModelDetails(_text(d.get("parameters")), _text(d.get("template")),
                            _dict(d.get("details")), _dict(d.get("model_info")),
                            tuple(str(c) for c in caps) if isinstance(caps, list) else ())

    def ps(self) -> list[RunningModel]:
        out = []
        for m in _objects(self._get_json("GET", "/api/ps").get("models")):
            ctx = m.get("context_length")
            out.append(RunningModel(_text(m.get("name")), _int(m.get("size")),
                                    _int(m.get("size_vram")), _text(m.get("expires_at")),
                                    ctx if isinstance(ctx, int) and not isinstance(ctx, bool)
                                    else None, _dict(m.get("details"))))
        return out

    def generate(self, model: str, prompt: str, options: dict[str, Any] | None = None,
                 keep_alive: str | int | None = None, *, raw: bool = False
                 ) -> Iterator[Token | Done]:
        """Stream /api/generate: Token chunks, then exactly one Done; or a GenerationError.
        `raw`: the prompt as it is, without the model's template."""
        body: dict[str, Any] = {"model": model, "prompt": prompt, "stream": True,
                                "options": dict(options or {})}
        if raw:
            body["raw"] = True
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        try:
            lines = self._http.lines("POST", "/api/generate", body)
        except ServerResponseError as exc:
            raise self._with_hint(exc) from None
        return _parse_stream(lines, self.base_url)

    def another(self) -> OllamaClient:
        """A new client of the same server (its own connection), for a concurrent stream."""
        return OllamaClient(self.base_url, find_pid=self.find_pid)

    def server_pid(self) -> int | None:
        """The `ollama serve` process serving base_url on this machine (None: not visible)."""
        return None if self.find_pid is None else self.find_pid(self.base_url)

    def close(self) -> None:
        self._http.close()

    # -- transport -------------------------------------------------------------------------
    def _get_json(self, method: str, path: str, json: Any = None) -> dict[str, Any]:
        try:
            data = self._http.json(method, path, json)
        except ServerResponseError as exc:
            raise self._with_hint(exc) from None
        if not isinstance(data, dict):
            raise ServerResponseError(f"Ollama answered {method} {path} with JSON that is not an "
                                      f"object ({type(data).__name__})", status=200,
                                      hint="is --host pointing at an Ollama server?")
        return data

    def _with_hint(self, exc: ServerResponseError) -> ServerResponseError:
        hint = exc.hint or _STATUS_HINTS.get(exc.status)
        return ServerResponseError(exc.message, status=exc.status, hint=hint)

    def unreachable(self) -> ServerUnreachableError:
        return ServerUnreachableError(
            f"Ollama is not reachable at {self.base_url} — start it with `ollama serve`",
            hint="or point velollm at the right server with --host URL / OLLAMA_HOST")


def _objects(value: object) -> list[dict[str, Any]]:
    """The objects of a JSON list; anything else (null, a string, a number) is no entries."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and 0 <= value < 2**63 else 0


def _parse_stream(lines: Iterator[bytes], base_url: str) -> Iterator[Token | Done]:
    """NDJSON lines -> typed chunks. Every way a stream can end badly becomes a GenerationError."""
    last: dict[str, Any] | None = None
    try:
        for raw in lines:
            last = _decode_line(raw)
            if "error" in last:
                raise GenerationError(f"Ollama reported an error mid-stream: "
                                      f"{str(last['error'])[:200]}", kind="server_error")
            piece = last.get("response")
            if isinstance(piece, str) and piece:
                yield Token(piece)
            if last.get("done") is True:
                yield Done(Metrics.from_json(last))
                return
    except ServerTimeoutError as exc:
        raise GenerationError(f"the stream from {base_url} did not finish in time: {exc.message}",
                              kind="timeout", hint=exc.hint) from None
    except ServerResponseError as exc:
        raise GenerationError(f"the stream from {base_url} was cut before the end: "
                              f"{exc.message}", kind="cut",
                              hint="check the server log; the request was not completed") from None
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()
    if last is None:
        raise GenerationError(f"the stream from {base_url} ended before the first chunk",
                              kind="cut")
    # Ollama 0.5.4 aborts a generation that repeats one token 30+ times this way.
    raise GenerationError("the generation ended without \"done\": true and without statistics "
                          "(Ollama aborts a generation that repeats one token 30+ times)",
                          kind="incomplete", hint="use another prompt or a repeat penalty")


def _decode_line(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise GenerationError(f"Ollama sent a stream line that is not JSON: {raw[:80]!r}",
                              kind="malformed") from None
    if not isinstance(data, dict):
        raise GenerationError(f"Ollama sent a stream line that is not an object: {raw[:80]!r}",
                              kind="malformed")
    return data
