"""llama-server's streamed answers: `data: {...}` lines -> wire.Token / wire.Done.

- /completion (the prompt as it is): `content` pieces; the last chunk has "stop": true,
  `stop_type` (limit | eos | word) and the timings; no `[DONE]`.
- /v1/chat/completions (the model's chat template applied, as Ollama's /api/generate does):
  `choices[0].delta.content` pieces; the chunk with `finish_reason` (length | stop) carries the
  timings; `data: [DONE]` ends the stream.
The timings `{prompt_n, prompt_ms, predicted_n, predicted_ms}` become wire.Metrics: the server
timed both phases itself. predicted_ms runs from the first generated token (sampled with the
prompt) to the last, so it spans predicted_n - 1 decode steps; llama-server's own
predicted_per_second divides by that, /metrics' counters (and so the benchmark, which sums
them alike) by predicted_n. One token has no decode step: its duration is left unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from velollm.backends.wire import Done, GenerationError, Metrics, Token
from velollm.errors import ServerResponseError, ServerTimeoutError

TITLE = "llama-server"
# llama-server's stop_type, in the words of the benchmark schema (Ollama's done_reason).
_DONE_REASON = {"limit": "length", "eos": "stop", "word": "stop"}
MS = 1_000_000  # ns per ms


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def error_message(body: object) -> str:
    """The message of llama-server's `{"error": {"message": ...}}` (or the body, cut short)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))[:200]
    return str(body)[:200]


def _ns(ms: object) -> int | None:
    return int(float(ms) * MS) if isinstance(ms, (int, float)) and not isinstance(ms, bool) \
        else None


def _count(value: object) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def final_metrics(last: dict[str, Any]) -> Metrics:
    """The stop chunk's timings as wire.Metrics: the server measured both phases itself."""
    t = last.get("timings")
    timings: dict[str, Any] = t if isinstance(t, dict) else {}
    prompt_ns, predicted_ns = _ns(timings.get("prompt_ms")), _ns(timings.get("predicted_ms"))
    total = None if prompt_ns is None or predicted_ns is None else prompt_ns + predicted_ns
    stop_type = _text(last.get("stop_type")) or _finish_reason(last) or ""
    predicted = _count(timings.get("predicted_n"))
    if predicted is not None and predicted <= 1:
        predicted_ns = None  # no decode step was timed: a rate from it would be noise
    return Metrics(total, None, _count(timings.get("prompt_n")), prompt_ns, predicted,
                   predicted_ns, _DONE_REASON.get(stop_type, stop_type))


def _choice(chunk: dict[str, Any]) -> dict[str, Any]:
    choices = chunk.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else {}


def _finish_reason(chunk: dict[str, Any]) -> str | None:
    reason = _choice(chunk).get("finish_reason")
    return reason if isinstance(reason, str) else None


def _piece(chunk: dict[str, Any]) -> str:
    """The text of a chunk of either endpoint."""
    if "choices" in chunk:
        delta = _choice(chunk).get("delta")
        return _text(delta.get("content")) if isinstance(delta, dict) else ""
    return _text(chunk.get("content"))


def _last_chunk(chunk: dict[str, Any]) -> bool:
    return chunk.get("stop") is True or (_finish_reason(chunk) is not None
                                         and "timings" in chunk)


def parse_stream(lines: Iterator[bytes], base_url: str) -> Iterator[Token | Done]:
    """`data: {...}` lines -> typed chunks; every bad ending becomes a GenerationError."""
    seen = False
    try:
        for raw in lines:
            chunk = _decode_line(raw)
            if chunk is None:
                continue
            seen = True
            if "error" in chunk:
                raise GenerationError(f"{TITLE} reported an error mid-stream: "
                                      f"{error_message(chunk)}", kind="server_error")
            piece = _piece(chunk)
            if piece:
                yield Token(piece)
            if _last_chunk(chunk):
                yield Done(final_metrics(chunk))
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
    if not seen:
        raise GenerationError(f"the stream from {base_url} ended before the first chunk",
                              kind="cut", hint="did llama-server stop? check its log")
    raise GenerationError(f"the stream from {base_url} ended without its final chunk (the "
                          "one with the timings)",
                          kind="incomplete", hint="did llama-server stop? check its log")


def _decode_line(raw: bytes) -> dict[str, Any] | None:
    """One SSE line: `data: {...}` (or `error: {...}`); other SSE fields are skipped."""
    field, sep, payload = raw.partition(b":")
    if not sep or field.strip() not in (b"data", b"error"):
        if raw.lstrip().startswith(b"{"):  # a plain JSON line (an error answered unstreamed)
            field, payload = b"data", raw
        else:
            return None
    if payload.strip() == b"[DONE]":
        return None
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise GenerationError(f"{TITLE} sent a stream line that is not JSON: {raw[:80]!r}",
                              kind="malformed") from None
    if not isinstance(data, dict):
        raise GenerationError(f"{TITLE} sent a stream line that is not an object: {raw[:80]!r}",
                              kind="malformed")
    if field.strip() == b"error" and "error" not in data:
        data = {"error": data}
    return data
