"""The values a backend's client hands back: streamed tokens, final metrics, model listings.

Shared by every backend's client and by the benchmark (velollm/bench/), which times them without
knowing which server produced them. Fields a server does not report are None, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from velollm.errors import VelollmError

StreamFailure = Literal["cut", "malformed", "incomplete", "server_error", "timeout"]


class GenerationError(VelollmError):
    """A generation that started but did not finish cleanly; `kind` says how it ended."""

    def __init__(self, message: str, *, kind: StreamFailure, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind


@dataclass(frozen=True)
class Token:
    """One streamed piece of the response (a chunk can hold several tokens, or none)."""

    text: str


@dataclass(frozen=True)
class Metrics:
    """The final statistics of a generation. None means Ollama omitted the field (0.5.4 omits 0)."""

    total_duration_ns: int | None
    load_duration_ns: int | None
    prompt_eval_count: int | None
    prompt_eval_duration_ns: int | None
    eval_count: int | None
    eval_duration_ns: int | None
    done_reason: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Metrics:
        def num(key: str) -> int | None:
            value = data.get(key)
            return int(value) if isinstance(value, (int, float)) else None

        return cls(num("total_duration"), num("load_duration"), num("prompt_eval_count"),
                   num("prompt_eval_duration"), num("eval_count"), num("eval_duration"),
                   str(data.get("done_reason", "")))


@dataclass(frozen=True)
class Done:
    """The last chunk of a successful stream."""

    metrics: Metrics


@dataclass(frozen=True)
class ModelTag:
    name: str
    size: int
    digest: str
    details: dict[str, Any] = field(default_factory=dict)
    modified_at: str = ""  # RFC 3339, as the server sends it; "" when it sends none


@dataclass(frozen=True)
class RunningModel:
    name: str
    size: int
    size_vram: int
    expires_at: str
    context_length: int | None  # only Ollama >= 0.10 reports it
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelDetails:
    """/api/show, kept close to the wire: the memory model reads `model_info` keys itself."""

    parameters: str
    template: str
    details: dict[str, Any]
    model_info: dict[str, Any]
    capabilities: tuple[str, ...]


class ServerClient(Protocol):
    """What the benchmark and verify need of a backend's client."""

    @property
    def base_url(self) -> str: ...
    def version(self) -> str: ...
    def tags(self) -> list[ModelTag]: ...
    def show(self, model: str) -> ModelDetails: ...
    def ps(self) -> list[RunningModel]: ...
    def generate(self, model: str, prompt: str, options: dict[str, Any] | None = None,
                 keep_alive: str | int | None = None) -> Iterator[Token | Done]: ...
    def close(self) -> None: ...
    def another(self) -> ServerClient: ...  # a new client of the same server, for another stream
    # the server's process on this machine, for the benchmark's contention figures; None: not seen
    def server_pid(self) -> int | None: ...


@dataclass(frozen=True)
class TokenCounters:
    """A server's own running totals (llama-server's /metrics), read before and after a
    benchmark to cross-check the token counts and durations its streams reported."""

    prompt_tokens: float
    prompt_seconds: float
    predicted_tokens: float
    predicted_seconds: float


@runtime_checkable
class CountsTokens(Protocol):
    """A client whose server keeps token counters (None: it does not serve them now, e.g.
    llama-server started without --metrics)."""

    def token_counters(self) -> TokenCounters | None: ...
