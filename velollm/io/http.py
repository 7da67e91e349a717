"""The only module that imports requests: every HTTP exchange velollm has with an inference server.

A local server has no reason to redirect, compress, trickle or send gigabytes, so this transport:
- follows no redirect, ever (following one off the host would leak the request);
- holds each request to one overall deadline, body included: a socket read timeout alone is
  defeated by a server that sends one byte a second;
- caps the size of a whole response and of any one streamed line, before reading past the cap;
- asks for an uncompressed body and decodes a compressed one only up to the same cap (no gzip bomb);
- ignores proxy variables (a loopback server must not be reached through a proxy);
- opens one connection per request (loopback connects cost ~0.1 ms; a reused socket that the
  server closed while idle would fail the next request as if the server were down).
Every failure is a VelollmError naming the server, the request and what it did.
`requests` is imported lazily so commands that never talk to a server stay fast.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from velollm.errors import ServerResponseError, ServerTimeoutError, ServerUnreachableError

if TYPE_CHECKING:
    import requests

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    connect_s: float = 2.0
    deadline_s: float = 120.0  # the whole request: connect, headers and every byte of the body
    max_body: int = 32 * MIB  # any one response (a JSON answer, or a whole stream)
    max_line: int = 1 * MIB  # any one line of a stream


class Http:
    """One server's HTTP endpoint. `title` names it in messages ("Ollama", "llama-server")."""

    def __init__(self, base_url: str, title: str, limits: Limits | None = None, *,
                 retries: int = 2, backoff: float = 0.25,
                 sleep: Callable[[float], None] = time.sleep,
                 unreachable: Callable[[], ServerUnreachableError] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.title = title
        self.limits = limits or Limits()
        self.retries = retries  # extra attempts after a failed connect, never after an answer
        self.backoff = backoff  # seconds, doubled per attempt
        self.sleep = sleep
        self._unreachable = unreachable
        self._session: requests.Session | None = None

    # -- the two shapes of exchange ----------------------------------------------------------
    def json(self, method: str, path: str, body: Any = None,
             ok: Callable[[int], bool] = lambda status: status < 400) -> Any:
        """The decoded JSON answer (any shape: the caller validates it)."""
        deadline = time.monotonic() + self.limits.deadline_s
        response = self._send(method, path, body, stream=True, deadline=deadline, ok=ok)
        try:
            raw = b"".join(self._chunks(response, method, path, deadline))
        finally:
            response.close()
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ServerResponseError(f"{self.title} answered {method} {path} with a body that "
                                      f"is not JSON: {_preview(raw)}",
                                      status=response.status_code) from None

    def lines(self, method: str, path: str, body: Any = None,
              deadline_s: float | None = None) -> Iterator[bytes]:
        """The non-empty lines of a streamed answer, each at most max_line bytes."""
        deadline = time.monotonic() + (deadline_s or self.limits.deadline_s)
        response = self._send(method, path, body, stream=True, deadline=deadline)
        return self._split(response, method, path, deadline)

    def status(self, method: str, path: str) -> tuple[int, Any]:
        """(HTTP status, decoded JSON or None) without treating an error status as a failure."""
        deadline = time.monotonic() + self.limits.deadline_s
        response = self._send(method, path, None, stream=True, deadline=deadline,
                              ok=lambda _s: True)
        try:
            raw = b"".join(self._chunks(response, method, path, deadline))
        finally:
            response.close()
        try:
            return response.status_code, json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return response.status_code, None

    def text(self, method: str, path: str) -> str:
        """A plain-text answer (Prometheus /metrics), decoded as UTF-8 with replacements."""
        deadline = time.monotonic() + self.limits.deadline_s
        response = self._send(method, path, None, stream=True, deadline=deadline)
        try:
            return b"".join(self._chunks(response, method, path, deadline)).decode(
                "utf-8", "replace")
        finally:
            response.close()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def unreachable(self) -> ServerUnreachableError:
        if self._unreachable is not None:
            return self._unreachable()
        return ServerUnreachableError(f"{self.title} is not reachable at {self.base_url}",
                                      hint="start it, or point velollm at it with --host URL")

    # -- transport -----------------------------------------------------------------------------
    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.trust_env = False  # no proxy, no .netrc for a local server
        return self._session

    def _send(self, method: str, path: str, body: Any, *, stream: bool, deadline: float,
              ok: Callable[[int], bool] = lambda status: status < 400) -> requests.Response:
        import requests

        url = f"{self.base_url}{path}"
        for attempt in range(self.retries + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._late(method, path)
            try:
                response = self._http().request(
                    method, url, json=body, stream=stream, allow_redirects=False,
                    # one connection per request: a kept-alive socket that the server closed
                    # while idle fails the next request as if the server were gone
                    headers={"Accept-Encoding": "identity", "Connection": "close"},
                    timeout=(min(self.limits.connect_s, left), left))
                break
            except requests.ConnectionError as exc:
                if _is_read_timeout(exc):
                    raise self._late(method, path) from None
                # Refused or a connect timeout: the request never reached the server, so a
                # retry cannot run a generation twice. A read timeout is never retried.
                if attempt == self.retries:
                    raise self.unreachable() from None
                self.sleep(min(self.backoff * 2 ** attempt, max(0.0, left)))
            except requests.Timeout:
                raise self._late(method, path) from None
            except requests.RequestException as exc:
                raise ServerResponseError(f"{self.title} at {self.base_url} broke the HTTP "
                                          f"exchange of {method} {path}: {_reason(exc)}",
                                          status=0) from None
        if 300 <= response.status_code < 400:
            where = response.headers.get("Location", "?")
            response.close()
            raise ServerResponseError(
                f"{self.title} at {self.base_url} answered {method} {path} with a redirect "
                f"(HTTP {response.status_code}) to {where[:200]}; velollm follows no redirect",
                status=response.status_code,
                hint="point --host at the server itself, not at a proxy or another host")
        if not ok(response.status_code):
            deadline = min(deadline, time.monotonic() + 5.0)
            try:
                raw = b"".join(self._chunks(response, method, path, deadline, cap=64 * 1024))
            except (ServerResponseError, ServerTimeoutError):
                raw = b""
            finally:
                response.close()
            raise ServerResponseError(
                f"{self.title} answered {method} {path} with HTTP {response.status_code}: "
                f"{_error_text(raw) or response.reason}", status=response.status_code)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.limits.max_body:
            response.close()
            raise self._too_big(method, path, f"announced {int(declared)} bytes")
        return response

    def _chunks(self, response: requests.Response, method: str, path: str, deadline: float,
                cap: int | None = None) -> Iterator[bytes]:
        """The body in pieces, decoded (a compressed body never grows past the cap), in time."""
        import requests

        cap = self.limits.max_body if cap is None else cap
        total = 0
        raw = response.raw
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._late(method, path)
                _set_read_timeout(raw, left)
                # read1: what has arrived (a stream's line must not wait for 64 KiB more);
                # urllib3 >= 2.3 returns at most `amt` decoded bytes, so a gzip bomb stops at the cap
                piece = raw.read1(64 * 1024, decode_content=True)
                if not piece:
                    return
                total += len(piece)
                if total > cap:
                    raise self._too_big(method, path, f"more than {cap} bytes")
                yield piece
        except (requests.RequestException, OSError, ValueError) as exc:
            if _is_read_timeout(exc) or "timed out" in str(exc).lower():
                raise self._late(method, path) from None
            raise ServerResponseError(f"{self.title} at {self.base_url} cut the answer to "
                                      f"{method} {path}: {_reason(exc)}", status=0) from None
        except Exception as exc:  # noqa: BLE001 - urllib3's own (ProtocolError, DecodeError, ...)
            if "timed out" in str(exc).lower():
                raise self._late(method, path) from None
            raise ServerResponseError(f"{self.title} at {self.base_url} cut the answer to "
                                      f"{method} {path}: {_reason(exc)}", status=0) from None

    def _split(self, response: requests.Response, method: str, path: str,
               deadline: float) -> Iterator[bytes]:
        pending = b""
        try:
            for piece in self._chunks(response, method, path, deadline):
                pending += piece
                *whole, pending = pending.split(b"\n")
                for line in whole:
                    if len(line) > self.limits.max_line:
                        raise self._too_big(method, path, f"a line of {len(line)} bytes")
                    if line.strip():
                        yield line
                if len(pending) > self.limits.max_line:
                    raise self._too_big(method, path, "a line longer than "
                                        f"{self.limits.max_line} bytes")
            if pending.strip():
                yield pending
        finally:
            response.close()

    def _late(self, method: str, path: str) -> ServerTimeoutError:
        return ServerTimeoutError(
            f"{self.title} at {self.base_url} did not finish {method} {path} within "
            f"{self.limits.deadline_s:g} s", hint="the server may be overloaded or stuck; check its "
            "log, or allow more time with --timeout SECONDS")

    def _too_big(self, method: str, path: str, what: str) -> ServerResponseError:
        return ServerResponseError(
            f"{self.title} at {self.base_url} sent {what} for {method} {path}; velollm reads at "
            f"most {self.limits.max_body} bytes per answer and {self.limits.max_line} per line",
            status=0, hint="is --host pointing at the inference server?")


def _set_read_timeout(raw: Any, seconds: float) -> None:
    """Shorten the socket timeout of a response being read, so no read outlives the deadline."""
    fp = getattr(raw, "_fp", None)
    sock = getattr(getattr(fp, "fp", None), "raw", None)
    sock = getattr(sock, "_sock", sock)
    if sock is not None and hasattr(sock, "settimeout"):
        with contextlib.suppress(OSError):
            sock.settimeout(max(0.01, seconds))


def _is_read_timeout(exc: BaseException) -> bool:
    from urllib3.exceptions import ReadTimeoutError

    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, (ReadTimeoutError, TimeoutError)):
            return True
        nxt = node.args[0] if node.args and isinstance(node.args[0], BaseException) else None
        node = nxt or node.__cause__ or node.__context__
    return False


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] or type(exc).__name__


def _preview(raw: bytes) -> str:
    text = raw[:80].decode("utf-8", "replace")
    return repr(text) + ("..." if len(raw) > 80 else "")


def _error_text(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return " ".join(raw[:200].decode("utf-8", "replace").split())
    if isinstance(data, dict) and "error" in data:
        error = data["error"]
        if isinstance(error, dict):  # llama-server / OpenAI: {"error": {"message": ...}}
            error = error.get("message", error)
        return " ".join(str(error).split())[:200]
    return " ".join(raw[:200].decode("utf-8", "replace").split())
