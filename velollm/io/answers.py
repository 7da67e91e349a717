"""How a server's failed or unexpected answer is described in one line of an error message."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps: requests and urllib3 put the cause in their arguments
    (ConnectionError(ProtocolError('...', RemoteDisconnected(...))) as well as in __cause__."""
    node: BaseException | None = exc
    seen: set[int] = set()
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        yield node
        wrapped = [a for a in node.args[:2] if isinstance(a, BaseException)]
        node = (wrapped[0] if wrapped else None) or node.__cause__ or node.__context__


def answered_wrongly(exc: BaseException) -> str:
    """What a server that accepted the connection did instead of answering in HTTP ("" when the
    connection itself failed: refused, reset before the request, no route)."""
    for node in causes(exc):
        if isinstance(node, http.client.RemoteDisconnected):
            return "closed the connection without an answer"
        if isinstance(node, http.client.HTTPException):  # BadStatusLine, LineTooLong, ...
            return f"answered with something that is not HTTP ({reason(node)})"
    return ""


def reason(exc: BaseException) -> str:
    """The exception's own words, not the repr of its arguments (urllib3 raises
    ProtocolError('Connection broken: IncompleteRead(...)', IncompleteRead(...)))."""
    first = exc.args[0] if len(exc.args) > 1 and isinstance(exc.args[0], str) else str(exc)
    text = " ".join(first.split())
    return text[:160] or type(exc).__name__


def preview(raw: bytes) -> str:
    text = raw[:80].decode("utf-8", "replace")
    return repr(text) + ("..." if len(raw) > 80 else "")


def error_text(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return " ".join(raw[:200].decode("utf-8", "replace").split())
    if isinstance(data, dict) and "error" in data:
        error = data["error"]
        if isinstance(error, dict):  # llama-server / OpenAI: {"error": {"message": ...}}
            error = error.get("message", error)
        return " ".join(str(error).split())[:200]
    return " ".join(raw[:200].decode("utf-8", "replace").split())
