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
from typing import Any, TypeVar

from velollm.backends.ollama.host import connect_url
from velollm.backends.wire import (
    Done,
    GenerationError,
    Metrics,
    ModelDetails,
    ModelTag,
    RunningModel,
    ShapeError,
    Token,
    read_count,
    read_object,
    read_objects,
    read_strings,
    read_text,
)
from velollm.errors import ServerResponseError, ServerTimeoutError, ServerUnreachableError
from velollm.io.deadlines import RunDeadlineError
from velollm.io.http import Http, Limits, ResponseTooLarge

T = TypeVar("T")
_STATUS_HINTS = {
    404: "check the model name with `ollama list`, or pull it with `ollama pull MODEL`",
    503: "the server's request queue is full (OLLAMA_MAX_QUEUE); retry later or use fewer "
         "concurrent requests",
}


@dataclass
class OllamaClient:
    base_url: str
    connect_timeout: float = 2.0
    read_timeout: float | None = None  # the whole request; None: the command's (--timeout)
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
        data = self._get_json("GET", "/api/version")
        version = self._shape("GET", "/api/version",
                              lambda: read_text(data, "version", required=True))
        if len(version) > 100 or not version.isprintable():
            raise self._bad("GET", "/api/version", f"version {version[:40]!r}..., not a version")
        return version

    def tags(self) -> list[ModelTag]:
        data = self._get_json("GET", "/api/tags")
        return self._shape("GET", "/api/tags", lambda: [
            ModelTag(read_text(m, "name", f"models[{i}].", required=True),
                     read_count(m, "size", f"models[{i}].") or 0,
                     read_text(m, "digest", f"models[{i}]."),
                     read_object(m, "details", f"models[{i}]."),
                     read_text(m, "modified_at", f"models[{i}]."))
            for i, m in enumerate(read_objects(data, "models"))])

    def show(self, model: str) -> ModelDetails:
        d = self._get_json("POST", "/api/show", json={"model": model})
        return self._shape("POST", "/api/show", lambda: ModelDetails(
            read_text(d, "parameters"), read_text(d, "template"), read_object(d, "details"),
            read_object(d, "model_info"), read_strings(d, "capabilities")))

    def ps(self) -> list[RunningModel]:
        data = self._get_json("GET", "/api/ps")
        return self._shape("GET", "/api/ps", lambda: [
            RunningModel(read_text(m, "name", f"models[{i}].", required=True),
                         read_count(m, "size", f"models[{i}].") or 0,
                         read_count(m, "size_vram", f"models[{i}].") or 0,
                         read_text(m, "expires_at", f"models[{i}]."),
                         read_count(m, "context_length", f"models[{i}]."),
                         read_object(m, "details", f"models[{i}]."))
            for i, m in enumerate(read_objects(data, "models"))])

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
        return OllamaClient(self.base_url, self.connect_timeout, self.read_timeout, self.retries,
                            self.backoff, self.sleep, self.find_pid)

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
            raise ServerResponseError(f"Ollama at {self.base_url} answered {method} {path} with "
                                      f"JSON that is not an object ({_kind(data)})",
                                      status=200,
                                      hint="is --host pointing at an Ollama server?")
        return data

    def _shape(self, method: str, path: str, read: Callable[[], T]) -> T:
        """The typed value `read` builds from an answer, or a clear error naming the field."""
        try:
            return read()
        except ShapeError as exc:
            raise self._bad(method, path, str(exc)) from None

    def _bad(self, method: str, path: str, what: str) -> ServerResponseError:
        return ServerResponseError(f"Ollama at {self.base_url} answered {method} {path} with "
                                   f"an unexpected shape: {what}", status=200,
                                   hint="is --host pointing at an Ollama server?")

    def _with_hint(self, exc: ServerResponseError) -> ServerResponseError:
        hint = exc.hint or _STATUS_HINTS.get(exc.status)
        return ServerResponseError(exc.message, status=exc.status, hint=hint)

    def unreachable(self) -> ServerUnreachableError:
        return ServerUnreachableError(
            f"Ollama is not reachable at {self.base_url} — start it with `ollama serve`",
            hint="or point velollm at the right server with --host URL / OLLAMA_HOST")


def _kind(value: object) -> str:
    names = {type(None): "null", str: "a string", int: "a number", float: "a number",
             bool: "a boolean", list: "a list"}
    return names.get(type(value), type(value).__name__)


def _parse_stream(lines: Iterator[bytes], base_url: str) -> Iterator[Token | Done]:
    """NDJSON lines -> typed chunks. Every way a stream can end badly becomes a GenerationError,
    except the run's own deadline (RunDeadlineError), which ends the whole run, not a sample."""
    last: dict[str, Any] | None = None
    server = f"Ollama at {base_url}"
    try:
        for raw in lines:
            last = _decode_line(raw, server)
            if "error" in last:
                raise GenerationError(f"{server} reported an error mid-stream: "
                                      f"{' '.join(str(last['error']).split())[:200]}",
                                      kind="server_error")
            piece, done = _chunk(last, server)
            if piece:
                yield Token(piece)
            if done is not None:
                yield done
                return
    except RunDeadlineError:
        raise
    except ServerTimeoutError as exc:
        raise GenerationError(exc.message, kind="timeout", hint=exc.hint) from None
    except ResponseTooLarge as exc:
        raise GenerationError(exc.message, kind="malformed", hint=exc.hint) from None
    except ServerResponseError as exc:  # "Ollama at URL cut the answer to POST /api/generate: ..."
        raise GenerationError(exc.message, kind="cut",
                              hint="check the server log; the request was not completed") from None
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()
    if last is None:
        raise GenerationError(f"{server} ended the stream of POST /api/generate before its "
                              "first chunk", kind="cut")
    # Ollama 0.5.4 aborts a generation that repeats one token 30+ times this way.
    raise GenerationError(f"{server} ended the generation without \"done\": true and "
                          "without statistics (Ollama aborts a generation that repeats one token "
                          "30+ times)", kind="incomplete",
                          hint="use another prompt or a repeat penalty")


def _chunk(data: dict[str, Any], server: str) -> tuple[str | None, Done | None]:
    """(the text it carries, Done with the statistics when it is the last chunk)."""
    piece, done = data.get("response"), data.get("done")
    if not isinstance(piece, (str, type(None))) or not isinstance(done, (bool, type(None))):
        raise GenerationError(f"{server} sent a stream chunk of the wrong shape (response "
                              f"{type(piece).__name__}, done {type(done).__name__})",
                              kind="malformed")
    if done is not True:
        return piece, None
    try:
        return piece, Done(Metrics.from_json(data))
    except ShapeError as exc:
        raise GenerationError(f"{server} sent final statistics of the wrong shape: {exc}",
                              kind="malformed") from None


def _decode_line(raw: bytes, server: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise GenerationError(f"{server} sent a stream line that is not JSON: {raw[:80]!r}",
                              kind="malformed") from None
    if not isinstance(data, dict):
        raise GenerationError(f"{server} sent a stream line that is not an object: "
                              f"{raw[:80]!r}", kind="malformed")
    return data
