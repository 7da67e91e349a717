"""The values a backend's client hands back: streamed tokens, final metrics, model listings.

Shared by every backend's client and by the benchmark (velollm/bench/), which times them without
knowing which server produced them. Fields a server does not report are None, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from velollm.errors import VelollmError

StreamFailure = Literal["cut", "malformed", "incomplete", "server_error", "timeout"]
# The kinds that say the server misbehaved, not that one request did not go well: the benchmark
# stops at the first of them rather than send more requests to a broken server.
SERVER_FAULTS: frozenset[str] = frozenset({"cut", "malformed", "timeout"})


class GenerationError(VelollmError):
    """A generation that started but did not finish cleanly; `kind` says how it ended."""

    def __init__(self, message: str, *, kind: StreamFailure, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind


# Beyond any real token count or duration in ns (2**53 ns is 104 days), and exact in JSON.
MAX_NUMBER = 2**53


class ShapeError(ValueError):
    """A field of a server's answer that is missing, null, or of the wrong type or range."""

    def __init__(self, where: str, expected: str, value: object) -> None:
        shown = "missing" if value is _MISSING else _show(value)
        super().__init__(f"{where} is {shown}, not {expected}")


_MISSING = object()


def _show(value: object) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_count(data: dict[str, Any], key: str, where: str = "") -> int | None:
    """A non-negative integer field; None when absent or null (servers omit what is zero)."""
    value = data.get(key)
    if value is None:
        return None
    number_like = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number_like or not (0 <= value <= MAX_NUMBER) or value != int(value):
        raise ShapeError(f"{where}{key}", f"an integer from 0 to {MAX_NUMBER}", value)
    return int(value)


def read_text(data: dict[str, Any], key: str, where: str = "", *, required: bool = False) -> str:
    """A string field; "" when absent or null, unless it is required."""
    value = data.get(key, _MISSING)
    if (value is _MISSING or value is None) and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ShapeError(f"{where}{key}", "a string" if not required else "a non-empty string",
                         value)
    return value


def read_object(data: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    """An object field; {} when absent or null."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ShapeError(f"{where}{key}", "an object", value)
    return value


def read_objects(data: dict[str, Any], key: str, where: str = "") -> list[dict[str, Any]]:
    """A list of objects; [] when absent or null (Go marshals an empty slice as null)."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ShapeError(f"{where}{key}", "a list", value)
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ShapeError(f"{where}{key}[{i}]", "an object", item)
    return value


def read_strings(data: dict[str, Any], key: str, where: str = "") -> tuple[str, ...]:
    """A list of strings; () when absent or null."""
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ShapeError(f"{where}{key}", "a list of strings", value)
    return tuple(value)


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
        """Ollama's final chunk; a field of the wrong type or range raises ShapeError."""
        def num(key: str) -> int | None:
            return read_count(data, key)

        return cls(num("total_duration"), num("load_duration"), num("prompt_eval_count"),
                   num("prompt_eval_duration"), num("eval_count"), num("eval_duration"),
                   read_text(data, "done_reason"))


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
