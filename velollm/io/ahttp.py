"""The asynchronous HTTP transport of the load generator (bench/load.py): hundreds of concurrent
streams on one core, each line timestamped on arrival. The only module that imports aiohttp.

It keeps the guarantees of velollm/io/http.py (the synchronous transport of everything else):
one overall deadline per request, body included; a cap on the size of a whole answer and of any
one line; no redirect followed, ever; no proxies; no compressed answers (asked for identity,
a compressed one is refused, so no gzip bomb can inflate). Failures are VelollmErrors naming the
server, the request and what it did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from velollm.errors import ServerResponseError, ServerTimeoutError, ServerUnreachableError
from velollm.io.http import Limits

if TYPE_CHECKING:
    import aiohttp


class AsyncHttp:
    """One server, many concurrent streams (one connection pool, sized for them)."""

    def __init__(self, base_url: str, title: str, limits: Limits | None = None,
                 connections: int = 1024) -> None:
        self.base_url = base_url.rstrip("/")
        self.title = title
        self.limits = limits or Limits()
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncHttp:  # noqa: PYI034 - not subclassed
        import aiohttp

        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.connections, force_close=False),
            trust_env=False, auto_decompress=False,
            headers={"Accept-Encoding": "identity"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def lines(self, method: str, path: str, body: Any = None,
                    deadline_s: float | None = None) -> AsyncIterator[tuple[float, bytes]]:
        """(monotonic arrival time, line) of each non-empty line of a streamed answer."""
        import aiohttp

        assert self._session is not None, "use `async with AsyncHttp(...)`"
        # aiohttp's `total` covers the whole exchange, body included: one overall deadline
        timeout = aiohttp.ClientTimeout(total=deadline_s or self.limits.deadline_s,
                                        connect=self.limits.connect_s)
        try:
            async with self._session.request(method, f"{self.base_url}{path}", json=body,
                                             allow_redirects=False,
                                             timeout=timeout) as response:
                self._check(response, method, path)
                async for item in self._split(response, method, path):
                    yield item
        except asyncio.TimeoutError:
            raise ServerTimeoutError(
                f"{self.title} at {self.base_url} did not finish {method} {path} within "
                f"{deadline_s or self.limits.deadline_s:g} s",
                hint="the server may be overloaded or stuck; check its log") from None
        except aiohttp.ClientConnectorError:
            raise ServerUnreachableError(f"{self.title} is not reachable at {self.base_url}",
                                         hint="start it, or point velollm at it with --host "
                                              "URL") from None
        except aiohttp.ClientError as exc:
            raise ServerResponseError(f"{self.title} at {self.base_url} cut the answer to "
                                      f"{method} {path}: {type(exc).__name__}: {exc}"[:300],
                                      status=0) from None

    def _check(self, response: aiohttp.ClientResponse, method: str, path: str) -> None:
        status = response.status
        if 300 <= status < 400:
            where = response.headers.get("Location", "?")[:200]
            raise ServerResponseError(
                f"{self.title} at {self.base_url} answered {method} {path} with a redirect "
                f"(HTTP {status}) to {where}; velollm follows no redirect", status=status,
                hint="point --host at the server itself, not at a proxy or another host")
        if status >= 400:
            raise ServerResponseError(f"{self.title} answered {method} {path} with HTTP "
                                      f"{status}: {response.reason}", status=status)
        encoding = response.headers.get("Content-Encoding", "identity").lower()
        if encoding not in ("", "identity"):
            raise ServerResponseError(f"{self.title} at {self.base_url} sent a {encoding}-"
                                      f"compressed answer to {method} {path} although velollm "
                                      "asked for none", status=status)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.limits.max_body:
            raise ServerResponseError(f"{self.title} at {self.base_url} announced "
                                      f"{int(declared)} bytes for {method} {path}; velollm "
                                      f"reads at most {self.limits.max_body}", status=status)

    async def _split(self, response: aiohttp.ClientResponse, method: str, path: str
                     ) -> AsyncIterator[tuple[float, bytes]]:
        pending = b""
        total = 0
        async for piece in response.content.iter_any():
            now = time.monotonic()
            total += len(piece)
            if total > self.limits.max_body:
                raise ServerResponseError(f"{self.title} at {self.base_url} sent more than "
                                          f"{self.limits.max_body} bytes for {method} {path}",
                                          status=response.status)
            pending += piece
            *whole, pending = pending.split(b"\n")
            for line in whole:
                if len(line) > self.limits.max_line:
                    raise self._long(method, path, response.status)
                if line.strip():
                    yield now, line
            if len(pending) > self.limits.max_line:
                raise self._long(method, path, response.status)
        if pending.strip():
            yield time.monotonic(), pending

    def _long(self, method: str, path: str, status: int) -> ServerResponseError:
        return ServerResponseError(f"{self.title} at {self.base_url} sent a line longer than "
                                   f"{self.limits.max_line} bytes for {method} {path}",
                                   status=status)
