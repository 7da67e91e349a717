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
Every failure is a VelollmError naming the server, the request and what it did. `requests` is
imported lazily; the deadlines are the command's (velollm/io/deadlines.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from velollm.errors import (
    ServerResponseError,
    ServerTimeoutError,
    ServerUnreachableError,
    VelollmError,
)
from velollm.io import deadlines, httpconn
from velollm.io.answers import answered_wrongly, error_text, preview, reason
from velollm.io.deadlines import Deadline

if TYPE_CHECKING:
    import requests

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    connect_s: float = 2.0
    # the whole request: connect, headers and every byte of the body; None: the command's
    # per-request deadline (`deadlines()`, which --timeout sets)
    deadline_s: float | None = None
    max_body: int = 32 * MIB  # any one response (a JSON answer, or a whole stream)
    max_line: int = 1 * MIB  # any one line of a stream


class ResponseTooLarge(ServerResponseError):
    """A response, or one line of it, over the size cap."""


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
        self._watchdog = httpconn.Watchdog()

    # -- the shapes of exchange ----------------------------------------------------------------
    def json(self, method: str, path: str, body: Any = None,
             ok: Callable[[int], bool] = lambda status: status < 400) -> Any:
        """The decoded JSON answer (any shape: the caller validates it)."""
        status, raw = self._whole(method, path, body, ok)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ServerResponseError(f"{self.title} at {self.base_url} answered {method} {path} "
                                      f"with a body that is not JSON: {preview(raw)}",
                                      status=status) from None

    def lines(self, method: str, path: str, body: Any = None,
              deadline_s: float | None = None) -> Iterator[bytes]:
        """The non-empty lines of a streamed answer, each at most max_line bytes."""
        deadline = self._deadline(deadline_s or self.request_s(streamed=True))
        response = self._send(method, path, body, stream=True, deadline=deadline)
        return self._split(response, method, path, deadline)

    def status(self, method: str, path: str) -> tuple[int, Any]:
        """(HTTP status, decoded JSON or None) without treating an error status as a failure."""
        status, raw = self._whole(method, path, None, lambda _s: True)
        try:
            return status, json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return status, None

    def text(self, method: str, path: str) -> str:
        """A plain-text answer (Prometheus /metrics), decoded as UTF-8 with replacements."""
        return self._whole(method, path, None, lambda status: status < 400)[1].decode(
            "utf-8", "replace")

    def _whole(self, method: str, path: str, body: Any,
               ok: Callable[[int], bool]) -> tuple[int, bytes]:
        """(HTTP status, the whole body) within the deadline and the size cap."""
        deadline = self._deadline()
        response = self._send(method, path, body, stream=True, deadline=deadline, ok=ok)
        try:
            return response.status_code, b"".join(self._chunks(response, method, path,
                                                                 deadline))
        finally:
            response.close()
            self._watchdog.disarm()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def unreachable(self) -> ServerUnreachableError:
        if self._unreachable is not None:
            return self._unreachable()
        return ServerUnreachableError(f"{self.title} is not reachable at {self.base_url}",
                                      hint="start it, or point velollm at it with --host URL")

    def request_s(self, *, streamed: bool = False) -> float:
        """This client's deadline per request: its own, else the command's (for a streamed
        generation, which may first load a model, the command's stream deadline)."""
        own, now = self.limits.deadline_s, deadlines.current()
        return own if own is not None else now.stream_s if streamed else now.request_s

    # -- transport -----------------------------------------------------------------------------
    def _deadline(self, own_s: float | None = None) -> Deadline:
        """When a request starting now must be over: its deadline, or the run's if sooner."""
        seconds = own_s or self.request_s()
        at = time.monotonic() + seconds
        run_at = deadlines.current().run_at
        return Deadline(at if run_at is None else min(at, run_at), seconds)

    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.trust_env = False  # no proxy, no .netrc for a local server
            for prefix in ("http://", "https://"):  # their sockets, for the watchdog to cut
                pools = self._session.get_adapter(prefix).poolmanager  # type: ignore[attr-defined]
                pools.pool_classes_by_scheme = httpconn.pool_classes(self._watchdog)
        return self._session

    def _send(self, method: str, path: str, body: Any, *, stream: bool, deadline: Deadline,
              ok: Callable[[int], bool] = lambda status: status < 400) -> requests.Response:
        self._watchdog.arm(deadline.at)  # disarmed once the answer is read, or here on a failure
        try:
            response = self._request(method, path, body, stream, deadline)
            return self._checked(response, method, path, deadline, ok)
        except BaseException:
            self._watchdog.disarm()
            raise

    def _request(self, method: str, path: str, body: Any, stream: bool,
                 deadline: Deadline) -> requests.Response:
        import requests

        url = f"{self.base_url}{path}"
        for attempt in range(self.retries + 1):
            left = deadline.at - time.monotonic()
            if left <= 0:
                raise self._late(method, path, deadline)
            try:
                return self._http().request(
                    method, url, json=body, stream=stream, allow_redirects=False,
                    # one connection per request: a kept-alive socket that the server closed
                    # while idle fails the next request as if the server were gone
                    headers={"Accept-Encoding": "identity", "Connection": "close"},
                    timeout=(min(self.limits.connect_s, left), left))
            except requests.ConnectionError as exc:
                answered = self._answered(exc, method, path, deadline)
                if answered is not None:
                    raise answered from None
                # Refused or a connect timeout: the request never reached the server, so a
                # retry cannot run a generation twice. A read timeout is never retried.
                if attempt == self.retries:
                    raise self.unreachable() from None
                self.sleep(min(self.backoff * 2 ** attempt, max(0.0, left)))
            except requests.Timeout:
                raise self._late(method, path, deadline) from None
            except requests.RequestException as exc:
                raise ServerResponseError(f"{self.title} at {self.base_url} broke the HTTP "
                                          f"exchange of {method} {path}: {reason(exc)}",
                                          status=0) from None
        raise self.unreachable()  # not reached: the last attempt returns or raises

    def _checked(self, response: requests.Response, method: str, path: str, deadline: Deadline,
                 ok: Callable[[int], bool]) -> requests.Response:
        """The response, unless it redirects, is an error status or announces too much."""
        if 300 <= response.status_code < 400:
            where = response.headers.get("Location", "?")
            response.close()
            raise ServerResponseError(
                f"{self.title} at {self.base_url} answered {method} {path} with a redirect "
                f"(HTTP {response.status_code}) to {where[:200]}; velollm follows no redirect",
                status=response.status_code,
                hint="point --host at the server itself, not at a proxy or another host")
        if not ok(response.status_code):
            deadline = deadline._replace(at=min(deadline.at, time.monotonic() + 5.0))
            try:
                raw = b"".join(self._chunks(response, method, path, deadline, cap=64 * 1024))
            except (ServerResponseError, ServerTimeoutError):
                raw = b""
            finally:
                response.close()
            raise ServerResponseError(
                f"{self.title} at {self.base_url} answered {method} {path} with HTTP "
                f"{response.status_code}: "
                f"{error_text(raw) or response.reason}", status=response.status_code)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.limits.max_body:
            response.close()
            raise self._too_big(method, path, f"a Content-Length of {int(declared)} bytes")
        return response

    def _answered(self, exc: BaseException, method: str, path: str,
                  deadline: Deadline) -> VelollmError | None:
        """The error for a server that took the request, then failed it (None: never got it)."""
        if httpconn.past(deadline) or httpconn.is_read_timeout(exc):
            return self._late(method, path, deadline)
        did = answered_wrongly(exc)  # it listens and took the request: not a server that is absent
        return ServerResponseError(f"{self.title} at {self.base_url} {did} to {method} {path}",
                                   status=0, hint="is --host pointing at the inference server?"
                                   ) if did else None

    def _chunks(self, response: requests.Response, method: str, path: str, deadline: Deadline,
                cap: int | None = None) -> Iterator[bytes]:
        """The body in pieces, decoded (a compressed body never grows past the cap), in time."""
        cap = self.limits.max_body if cap is None else cap
        total = 0
        raw = response.raw
        try:
            while True:
                left = deadline.at - time.monotonic()
                if left <= 0:
                    raise self._late(method, path, deadline)
                httpconn.set_read_timeout(raw, left)
                # read1: what has arrived (a stream's line must not wait for 64 KiB more);
                # urllib3 >= 2.3 returns at most `amt` decoded bytes, so a gzip bomb stops at the cap
                piece = raw.read1(64 * 1024, decode_content=True)
                if not piece:
                    if httpconn.past(deadline):  # the watchdog cut it: not the end of the answer
                        raise self._late(method, path, deadline)
                    return
                total += len(piece)
                if total > cap:
                    raise self._too_big(method, path, f"more than {cap // 1024} KiB")
                yield piece
        except VelollmError:
            raise  # ours: late, too big
        except Exception as exc:  # noqa: BLE001 - requests', urllib3's (ProtocolError, ...), OSError
            if httpconn.past(deadline) or httpconn.is_read_timeout(exc) \
                    or "timed out" in str(exc).lower():
                raise self._late(method, path, deadline) from None
            raise ServerResponseError(f"{self.title} at {self.base_url} cut the answer to "
                                      f"{method} {path}: {reason(exc)}", status=0) from None

    def _split(self, response: requests.Response, method: str, path: str,
               deadline: Deadline) -> Iterator[bytes]:
        pending = b""
        try:
            for piece in self._chunks(response, method, path, deadline):
                pending += piece
                *whole, pending = pending.split(b"\n")
                for line in whole:
                    if len(line) > self.limits.max_line:
                        raise self._too_big(method, path, f"a line of {len(line) // 1024} KiB")
                    if line.strip():
                        yield line
                if len(pending) > self.limits.max_line:
                    raise self._too_big(method, path, "a line longer than "
                                        f"{self.limits.max_line // 1024} KiB")
            if pending.strip():
                yield pending
        finally:
            response.close()
            self._watchdog.disarm()

    def _late(self, method: str, path: str, deadline: Deadline) -> ServerTimeoutError:
        return deadlines.late(f"{self.title} at {self.base_url}", f"{method} {path}",
                              deadline.seconds)

    def _too_big(self, method: str, path: str, what: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"{self.title} at {self.base_url} sent {what} for {method} {path}; velollm reads at "
            f"most {self.limits.max_body // 1024} KiB per answer and "
            f"{self.limits.max_line // 1024} KiB per line",
            status=0, hint="is --host pointing at the inference server?")
