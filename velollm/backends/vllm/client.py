"""Every call to vLLM's OpenAI-compatible server, through velollm/io/http.py (deadlines, size caps,
no redirects), handed back as the wire types so `velollm benchmark` runs unchanged.

Endpoints (vLLM 0.32.0): /version {"version"}, /v1/models (each model's `max_model_len`),
/metrics (Prometheus text, `vllm:*` series, ~610 lines), and streamed generations: server-sent
events `data: {...}` ending in `data: [DONE]`; `stream_options.include_usage` adds a last chunk
with the token counts. vLLM reports no per-request durations, so the Metrics carry counts only
and the benchmark times decoding from the stream itself.

generate() asks /v1/chat/completions by default: like Ollama's /api/generate it applies the
model's chat template, without which an instruct model answers a bare prompt with its end token
at once (measured: SmolLM2-Instruct on /v1/completions, 1 token, "stop", for every benchmark
prompt; 29 tokens through the chat endpoint). `raw=True` sends the prompt as it is to
/v1/completions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from velollm.backends.vllm.address import base_url as to_url
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

_SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_STATUS_HINTS = {
    401: "the server wants an API key (--api-key / VLLM_API_KEY): velollm's client cannot "
         "send one yet",
    404: "check the served model names with `curl URL/v1/models`",
}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse_metrics(text: str, prefix: str = "vllm:") -> list[Sample]:
    """The samples of a Prometheus text exposition whose name starts with `prefix`."""
    out: list[Sample] = []
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            continue
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        labels = {k: v.replace('\\"', '"').replace("\\\\", "\\")
                  for k, v in _LABEL.findall(m.group(3) or "")}
        out.append(Sample(m.group(1), labels, value))
    return out


@dataclass
class VllmClient:
    base_url: str
    connect_timeout: float = 2.0
    read_timeout: float = 300.0  # the CPU build decodes a few tokens a second
    find_pid: Callable[[str], int | None] | None = None
    raw: bool = False  # /v1/completions with the prompt as it is, no chat template
    _models: list[dict[str, Any]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = to_url(self.base_url)
        self._http = Http(self.base_url, "vLLM",
                          Limits(connect_s=self.connect_timeout, deadline_s=self.read_timeout),
                          unreachable=self.unreachable)

    # -- endpoints ---------------------------------------------------------------------------
    def version(self) -> str:
        return str(self._json("GET", "/version").get("version", ""))

    def models(self) -> list[dict[str, Any]]:
        data = self._json("GET", "/v1/models").get("data")
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    def tags(self) -> list[ModelTag]:
        return [ModelTag(str(m.get("id", "")), 0, "", _details(m)) for m in self.models()]

    def show(self, model: str) -> ModelDetails:
        for m in self.models():
            if m.get("id") == model:
                return ModelDetails("", "", _details(m), {}, ("completion",))
        served = ", ".join(str(m.get("id")) for m in self.models()) or "none"
        raise ServerResponseError(f"vLLM at {self.base_url} does not serve {model!r} (it "
                                  f"serves: {served})", status=404,
                                  hint="use a name from /v1/models (served_model_name)")

    def ps(self) -> list[RunningModel]:
        """vLLM serves its one model for as long as it runs: every listed model is loaded."""
        out = []
        for m in self.models():
            length = m.get("max_model_len")
            out.append(RunningModel(str(m.get("id", "")), 0, 0, "",
                                    length if isinstance(length, int) else None, _details(m)))
        return out

    def metrics(self) -> list[Sample]:
        return parse_metrics(self._http.text("GET", "/metrics"))

    def generate(self, model: str, prompt: str, options: dict[str, Any] | None = None,
                 keep_alive: str | int | None = None) -> Iterator[Token | Done]:  # noqa: ARG002
        """Stream a generation: Token chunks, then exactly one Done; or a GenerationError.
        Ollama's option names (num_predict, temperature, seed) are sent as OpenAI's."""
        opts = dict(options or {})
        path = "/v1/completions" if self.raw else "/v1/chat/completions"
        body: dict[str, Any] = {"model": model, "stream": True,
                                "stream_options": {"include_usage": True}}
        if self.raw:
            body["prompt"] = prompt
        else:
            body["messages"] = [{"role": "user", "content": prompt}]
        if "num_predict" in opts:
            body["max_tokens"] = opts.pop("num_predict")
        body.update({k: v for k, v in opts.items() if k in ("temperature", "seed", "top_p")})
        try:
            lines = self._http.lines("POST", path, body)
        except ServerResponseError as exc:
            raise self._with_hint(exc) from None
        return parse_stream(lines, self.base_url)

    def another(self) -> VllmClient:
        return VllmClient(self.base_url, find_pid=self.find_pid, raw=self.raw)

    def server_pid(self) -> int | None:
        return None if self.find_pid is None else self.find_pid(self.base_url)

    def close(self) -> None:
        self._http.close()

    # -- transport -------------------------------------------------------------------------
    def _json(self, method: str, path: str) -> dict[str, Any]:
        try:
            data = self._http.json(method, path)
        except ServerResponseError as exc:
            raise self._with_hint(exc) from None
        if not isinstance(data, dict):
            raise ServerResponseError(f"vLLM answered {method} {path} with JSON that is not an "
                                      "object", status=200,
                                      hint="is --host pointing at a vLLM server?")
        return data

    def _with_hint(self, exc: ServerResponseError) -> ServerResponseError:
        return ServerResponseError(exc.message, status=exc.status,
                                   hint=exc.hint or _STATUS_HINTS.get(exc.status))

    def unreachable(self) -> ServerUnreachableError:
        return ServerUnreachableError(f"vLLM is not reachable at {self.base_url}",
                                      hint="start it (it can take minutes to load a model), "
                                           "or point velollm at it with --host URL")


def _details(model: dict[str, Any]) -> dict[str, Any]:
    return {k: model[k] for k in ("max_model_len", "root", "owned_by") if k in model}


def parse_stream(lines: Iterator[bytes], base_url: str) -> Iterator[Token | Done]:
    """Server-sent events of /v1/completions (choices[].text) or /v1/chat/completions
    (choices[].delta.content) -> Token..., Done."""
    finish = ""
    usage: dict[str, Any] = {}
    try:
        for raw in lines:
            text = raw.decode("utf-8", "replace").strip()
            if not text.startswith("data:"):
                continue  # comments and event names
            data = text[5:].strip()
            if data == "[DONE]":
                yield Done(Metrics(None, None, _count(usage, "prompt_tokens"), None,
                                   _count(usage, "completion_tokens"), None, finish))
                return
            chunk = _decode(data, base_url)
            if isinstance(chunk.get("usage"), dict):
                usage = chunk["usage"]
            for choice in chunk.get("choices") or []:
                if isinstance(choice, dict):
                    delta = choice.get("delta")
                    piece = delta.get("content") if isinstance(delta, dict) \
                        else choice.get("text")
                    if piece:
                        yield Token(str(piece))
                    if choice.get("finish_reason"):
                        finish = str(choice["finish_reason"])
    except ServerTimeoutError as exc:
        raise GenerationError(str(exc), kind="timeout") from None
    raise GenerationError(f"vLLM at {base_url} ended the stream without data: [DONE]",
                          kind="cut")


def _count(usage: dict[str, Any], key: str) -> int | None:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _decode(data: str, base_url: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise GenerationError(f"vLLM at {base_url} sent an event that is not JSON: "
                              f"{data[:80]!r}", kind="malformed") from None
    if not isinstance(chunk, dict):
        raise GenerationError(f"vLLM at {base_url} sent an event that is not an object",
                              kind="malformed")
    if "error" in chunk or chunk.get("object") == "error":
        err = chunk.get("error", chunk)
        msg = err.get("message") if isinstance(err, dict) else err
        raise GenerationError(f"vLLM at {base_url} failed the request: {msg}",
                              kind="server_error")
    return chunk
