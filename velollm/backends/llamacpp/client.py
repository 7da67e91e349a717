"""llama-server's HTTP API as a `wire.ServerClient`, through velollm/io/http.py.

Endpoints of build 11669 (shared/realrt/README.md; samples in tests/backends/llamacpp/):
- /health: 503 `{"error": {"message": "Loading model"}}` while loading, then `{"status": "ok"}`;
  every other endpoint answers 503 too while the model loads;
- /props: build_info ("b11669-Debian"), model_path, total_slots,
  default_generation_settings.n_ctx (the context of ONE slot), chat_template;
- /v1/models: data[].id and .meta {n_ctx_train, n_params, size, n_vocab, n_embd, ftype};
- /slots (unless --no-slots), /metrics (only with --metrics, else 501);
- /v1/chat/completions and /completion, streamed (stream.py), with the server's own timings.
A llama-server serves one model (router mode aside): the model name of a request is not needed,
and the benchmark's name for it is the /v1/models id (the path, or the --alias).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from velollm.backends.llamacpp.metrics import Counters
from velollm.backends.llamacpp.stream import TITLE, error_message, parse_stream
from velollm.backends.wire import (
    Done,
    ModelDetails,
    ModelTag,
    RunningModel,
    Token,
    TokenCounters,
)
from velollm.errors import ServerResponseError, ServerUnreachableError
from velollm.io.http import Http, Limits

_BUILD = re.compile(r"b?(\d+)")


class ServerLoadingError(ServerResponseError):
    """llama-server is up but still loading its model (HTTP 503 "Loading model")."""


@dataclass
class LlamaServerClient:
    base_url: str
    connect_timeout: float = 2.0
    read_timeout: float | None = None  # the whole request; None: the command's (--timeout)
    retries: int = 2  # extra attempts after a failed connect, never after an answer
    backoff: float = 0.25
    sleep: Callable[[float], None] = time.sleep
    # base_url -> the server's pid (current.server_pid; kept out of the HTTP client)
    find_pid: Callable[[str], int | None] | None = None
    api: Literal["chat", "completion"] = "chat"

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._http = Http(self.base_url, TITLE,
                          Limits(connect_s=self.connect_timeout, deadline_s=self.read_timeout),
                          retries=self.retries, backoff=self.backoff, sleep=self.sleep,
                          unreachable=self.unreachable)
        self._props: dict[str, Any] | None = None

    # -- llama-server's own endpoints --------------------------------------------------------
    def health(self) -> None:
        """Returns when the server is ready; ServerLoadingError while it loads its model."""
        status, body = self._call(lambda: self._http.status("GET", "/health"), "/health")
        if status == 503:
            raise self._loading("/health")
        if status != 200:
            raise ServerResponseError(f"{TITLE} answered GET /health with HTTP {status}: "
                                      f"{error_message(body)}", status=status)

    def props(self) -> dict[str, Any]:
        if self._props is None:
            self._props = self._object("GET", "/props")
        return self._props

    def build(self) -> str | None:
        """"b11669" from build_info ("b11669-Debian", "b6123-abc1234"); None when absent."""
        m = _BUILD.match(_text(self.props().get("build_info")))
        return f"b{m.group(1)}" if m else None

    def models(self) -> list[dict[str, Any]]:
        return _objects(self._object("GET", "/v1/models").get("data"))

    def slots(self) -> list[dict[str, Any]]:
        """/slots; a ServerResponseError (501) when the server runs with --no-slots."""
        data = self._call(lambda: self._http.json("GET", "/slots"), "/slots")
        if not isinstance(data, list):
            raise _not_shape("/slots", "a list", data)
        return _objects(data)

    def metrics(self) -> Counters | None:
        """/metrics; None when the server runs without --metrics (HTTP 501)."""
        from velollm.backends.llamacpp.metrics import parse

        try:
            text = self._call(lambda: self._http.text("GET", "/metrics"), "/metrics")
        except ServerResponseError as exc:
            if exc.status == 501:
                return None
            raise
        return parse(text, f"{TITLE} at {self.base_url} /metrics")

    def token_counters(self) -> TokenCounters | None:
        """wire.CountsTokens: /metrics' totals; None without --metrics."""
        c = self.metrics()
        if c is None:
            return None
        values = [c.get(k) for k in ("prompt_tokens_total", "prompt_seconds_total",
                                     "tokens_predicted_total", "tokens_predicted_seconds_total")]
        if any(v is None for v in values):
            return None
        return TokenCounters(*(float(v or 0.0) for v in values))

    # -- wire.ServerClient -------------------------------------------------------------------
    def version(self) -> str:
        return self.build() or _text(self.props().get("build_info"))

    def tags(self) -> list[ModelTag]:
        return [ModelTag(_text(m.get("id")), _int(_meta(m).get("size")), "", _details(m))
                for m in self.models()]

    def show(self, model: str) -> ModelDetails:
        found = self._model(model)
        props = self.props()
        meta = _meta(found)
        info = {"general.parameter_count": meta.get("n_params"),
                "context_length": meta.get("n_ctx_train"),
                "embedding_length": meta.get("n_embd"), "vocab_size": meta.get("n_vocab")}
        return ModelDetails("", _text(props.get("chat_template")), _details(found),
                            {k: v for k, v in info.items() if v is not None},
                            tuple(str(c) for c in found.get("capabilities") or ()
                                  if isinstance(c, str)))

    def ps(self) -> list[RunningModel]:
        """The loaded model, with the context of one slot (what a request can use)."""
        props = self.props()
        settings = props.get("default_generation_settings")
        n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
        return [RunningModel(_text(m.get("id")), _int(_meta(m).get("size")), 0, "",
                             n_ctx if isinstance(n_ctx, int) else None,
                             {**_details(m), "total_slots": props.get("total_slots"),
                              "model_path": props.get("model_path")})
                for m in self.models()]

    def generate(self, model: str, prompt: str, options: dict[str, Any] | None = None,
                 keep_alive: str | int | None = None,  # noqa: ARG002 - its model stays loaded
                 ) -> Iterator[Token | Done]:
        """Stream the prompt: Token chunks, then one Done with the server's own timings.
        `api` "chat" sends it as a user message (the model's chat template applied, as Ollama's
        /api/generate does: an instruct model answers a raw prompt with an end-of-turn token
        at once), "completion" as it is."""
        opts = dict(options or {})
        n_predict = opts.pop("num_predict", None)
        if self.api == "chat":
            path = "/v1/chat/completions"
            body: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}],
                                    "stream": True}
            if n_predict is not None:
                body["max_tokens"] = n_predict
        else:
            path, body = "/completion", {"prompt": prompt, "stream": True}
            if n_predict is not None:
                body["n_predict"] = n_predict
        body.update(opts)  # temperature, seed, ignore_eos: the same names in llama-server
        if model:
            body["model"] = model  # ignored by a one-model server, chooses in router mode
        lines = self._call(lambda: self._http.lines("POST", path, body), path)
        return parse_stream(lines, self.base_url)

    def another(self) -> LlamaServerClient:
        return LlamaServerClient(self.base_url, self.connect_timeout, self.read_timeout,
                                 find_pid=self.find_pid, api=self.api)

    def server_pid(self) -> int | None:
        """The llama-server process serving base_url here (current.server_pid, handed in)."""
        return None if self.find_pid is None else self.find_pid(self.base_url)

    def close(self) -> None:
        self._http.close()

    # -- transport ---------------------------------------------------------------------------
    def unreachable(self) -> ServerUnreachableError:
        return ServerUnreachableError(
            f"{TITLE} is not reachable at {self.base_url}: start it (llama-server -m MODEL "
            "--port PORT)", hint="or point velollm at the right server with --host URL")

    def _loading(self, path: str) -> ServerLoadingError:
        return ServerLoadingError(
            f"{TITLE} at {self.base_url} is still loading its model (HTTP 503 on {path})",
            status=503, hint="wait until GET /health answers {\"status\":\"ok\"}, then run again")

    def _call(self, call: Callable[[], Any], path: str) -> Any:
        try:
            return call()
        except ServerResponseError as exc:
            if exc.status == 503 and "loading" in exc.message.lower():
                raise self._loading(path) from None
            raise

    def _object(self, method: str, path: str) -> dict[str, Any]:
        data = self._call(lambda: self._http.json(method, path), path)
        if not isinstance(data, dict):
            raise _not_shape(path, "an object", data)
        return data

    def _model(self, model: str) -> dict[str, Any]:
        """The served model called `model`: its id, an alias, or the file's name."""
        listed = self.models()
        for m in listed:
            names = {_text(m.get("id")), *(_text(a) for a in m.get("aliases") or ())}
            names |= {Path(n).name for n in names} | {Path(n).stem for n in names}
            if model in names:
                return m
        served = ", ".join(_text(m.get("id")) for m in listed) or "none"
        raise ServerResponseError(f"{TITLE} at {self.base_url} does not serve {model!r} "
                                  f"(it serves: {served})", status=404,
                                  hint="name the model as /v1/models lists it, or leave "
                                       "--model out")


def _not_shape(path: str, want: str, data: object) -> ServerResponseError:
    return ServerResponseError(f"{TITLE} answered {path} with JSON that is not {want} "
                               f"({type(data).__name__})", status=200,
                               hint="is --host pointing at llama-server?")


def _objects(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _meta(model: dict[str, Any]) -> dict[str, Any]:
    meta = model.get("meta")
    return dict(meta) if isinstance(meta, dict) else {}


def _details(model: dict[str, Any]) -> dict[str, Any]:
    meta = _meta(model)
    keys = ("n_params", "n_ctx_train", "n_ctx", "ftype", "n_vocab", "n_embd", "size")
    return {k: meta[k] for k in keys if k in meta}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and 0 <= value < 2**63 else 0


