"""The only module that imports requests: one choke point for every call to the Ollama API.

`requests` is imported lazily so commands that never talk to a server (and `--version`) stay fast.
What Ollama 0.5.4 really sends (shared/realrt/README.md, "API quirks"): `eval_duration` and
`prompt_eval_duration` are whole milliseconds and omitted when zero; a token repeated 30+ times ends
the stream with `"done": false` and no statistics. Both are handled here, never guessed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    import requests

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
        self._session: requests.Session | None = None

    # -- endpoints -----------------------------------------------------------------------
    def version(self) -> str:
        return str(self._get_json("GET", "/api/version").get("version", ""))

    def tags(self) -> list[ModelTag]:
        models = self._get_json("GET", "/api/tags").get("models") or []
        return [ModelTag(str(m.get("name", "")), int(m.get("size", 0)), str(m.get("digest", "")),
                         dict(m.get("details") or {}), str(m.get("modified_at") or ""))
                for m in models]

    def show(self, model: str) -> ModelDetails:
        d = self._get_json("POST", "/api/show", json={"model": model})
        return ModelDetails(str(d.get("parameters", "")), str(d.get("template", "")),
                            dict(d.get("details") or {}), dict(d.get("model_info") or {}),
                            tuple(d.get("capabilities") or ()))

    def ps(self) -> list[RunningModel]:
        models = self._get_json("GET", "/api/ps").get("models") or []
        return [RunningModel(str(m.get("name", "")), int(m.get("size", 0)),
                             int(m.get("size_vram", 0)), str(m.get("expires_at", "")),
                             m.get("context_length"), dict(m.get("details") or {}))
                for m in models]

    def generate(self, model: str, prompt: str, options: dict[str, Any] | None = None,
                 keep_alive: str | int | None = None) -> Iterator[Token | Done]:
        """Stream /api/generate: Token chunks, then exactly one Done; or a GenerationError."""
        body: dict[str, Any] = {"model": model, "prompt": prompt, "stream": True,
                                "options": dict(options or {})}
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        response = self._request("POST", "/api/generate", json=body, stream=True)
        return _parse_stream(response, self.base_url, self.read_timeout)

    def another(self) -> OllamaClient:
        """A new client of the same server (its own connection), for a concurrent stream."""
        return OllamaClient(self.base_url, find_pid=self.find_pid)

    def server_pid(self) -> int | None:
        """The `ollama serve` process serving base_url on this machine (None: not visible)."""
        return None if self.find_pid is None else self.find_pid(self.base_url)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- transport -------------------------------------------------------------------------
    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.trust_env = False  # never route a loopback server through a proxy
        return self._session

    def _get_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, path, **kwargs)
        try:
            data = response.json()
        except ValueError:
            raise ServerResponseError(f"Ollama answered {method} {path} with a body that is not "
                                      "JSON", status=response.status_code) from None
        return data if isinstance(data, dict) else {}

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        import requests

        url = f"{self.base_url}{path}"
        kwargs.setdefault("timeout", (self.connect_timeout, self.read_timeout))
        for attempt in range(self.retries + 1):
            try:
                response = self._http().request(method, url, **kwargs)
                break
            except requests.ConnectionError:
                # Covers refused and connect timeouts: the request never reached Ollama, so a
                # retry cannot run a generation twice. A read timeout is not retried.
                if attempt == self.retries:
                    raise self.unreachable() from None
                self.sleep(self.backoff * 2 ** attempt)
            except requests.Timeout:
                raise ServerTimeoutError(
                    f"Ollama at {self.base_url} did not answer {method} {path} within "
                    f"{self.read_timeout:g} s", hint="the server may be overloaded or stuck; "
                    "check its log") from None
        if response.status_code >= 400:
            raise ServerResponseError(
                f"Ollama answered {method} {path} with HTTP {response.status_code}: "
                f"{_error_text(response)}",
                status=response.status_code, hint=_STATUS_HINTS.get(response.status_code))
        return response

    def unreachable(self) -> ServerUnreachableError:
        return ServerUnreachableError(
            f"Ollama is not reachable at {self.base_url} — start it with `ollama serve`",
            hint="or point velollm at the right server with --host URL / OLLAMA_HOST")


def _error_text(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason
    if isinstance(data, dict) and "error" in data:
        return str(data["error"])
    return response.text.strip()[:200]


def _parse_stream(response: requests.Response, base_url: str,
                  read_timeout: float) -> Iterator[Token | Done]:
    """NDJSON lines -> typed chunks. Every way a stream can end badly becomes a GenerationError."""
    import requests

    last: dict[str, Any] | None = None
    try:
        for raw in response.iter_lines():
            if not raw.strip():
                continue
            last = _decode_line(raw)
            if "error" in last:
                raise GenerationError(f"Ollama reported an error mid-stream: {last['error']}",
                                      kind="server_error")
            if last.get("response"):
                yield Token(str(last["response"]))
            if last.get("done") is True:
                yield Done(Metrics.from_json(last))
                return
    except (requests.Timeout, requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError) as exc:
        raise _stream_broken(exc, base_url, read_timeout) from None
    finally:
        response.close()
    if last is None:
        raise GenerationError(f"the stream from {base_url} ended before the first chunk",
                              kind="cut")
    # Ollama 0.5.4 aborts a generation that repeats one token 30+ times this way.
    raise GenerationError("the generation ended without \"done\": true and without statistics "
                          "(Ollama aborts a generation that repeats one token 30+ times)",
                          kind="incomplete", hint="use another prompt or a repeat penalty")


def _stream_broken(exc: Exception, base_url: str, read_timeout: float) -> GenerationError:
    import requests
    from urllib3.exceptions import ReadTimeoutError

    # requests reports a read timeout inside iter_lines() as a ConnectionError wrapping it.
    cause = exc.args[0] if exc.args else None
    if isinstance(exc, requests.Timeout) or isinstance(cause, ReadTimeoutError):
        return GenerationError(f"the stream from {base_url} stalled for more than "
                               f"{read_timeout:g} s", kind="timeout",
                               hint="the server may be overloaded or stuck; check its log")
    return GenerationError(f"the stream from {base_url} was cut before the end (did the server "
                           "stop?)", kind="cut",
                           hint="check the server log; the request was not completed")


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
