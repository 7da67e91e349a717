"""The deadlines of the command being run, which every request to a server obeys.

A command (`benchmark --timeout 60 --deadline 600`) sets them once around its work; every
velollm/io/http.py request then ends within its own deadline (unless its client set one) and all
of them by the run's. Kept apart from http.py so that commands set them without importing
requests.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from velollm.errors import ServerTimeoutError

DEFAULT_REQUEST_S = 120.0


@dataclass(frozen=True)
class Deadlines:
    """The deadlines of the command being run, which every request obeys: its own (unless its
    client set one) and the run's, the moment by which the whole command must end."""

    request_s: float = DEFAULT_REQUEST_S  # an answer read whole (JSON)
    run_s: float | None = None
    run_at: float | None = None  # time.monotonic() at which the run's deadline passes
    request_option: str = "--timeout"  # what the user sets them with, for the messages
    run_option: str = "--timeout"
    chosen: bool = False  # set by the command (else the defaults above)
    stream_s: float = DEFAULT_REQUEST_S  # a streamed generation, which may load a model first


_now = Deadlines()


class Deadline(NamedTuple):
    """One request's: when it must be over, and its own length for the message."""

    at: float  # time.monotonic(): its own deadline, or the run's when that comes sooner
    seconds: float


class RunDeadlineError(ServerTimeoutError):
    """The whole command's deadline passed while a server was still answering."""


@contextlib.contextmanager
def deadlines(request_s: float, run_s: float | None = None, *, stream_s: float | None = None,
              request_option: str = "--timeout", run_option: str = "--timeout",
              ) -> Iterator[Deadlines]:
    """Every request made inside ends within `request_s` (a stream within `stream_s`, by default
    the same), and all of them by `run_s` from now.
    Process-wide rather than a context variable: the benchmark's concurrent clients run in
    threads, which a context variable would not reach."""
    global _now
    before = _now
    run_at = None if run_s is None else time.monotonic() + run_s
    _now = Deadlines(request_s, run_s, run_at, request_option, run_option, chosen=True,
                     stream_s=request_s if stream_s is None else stream_s)
    try:
        yield _now
    finally:
        _now = before


def current() -> Deadlines:
    return _now


def request_s(default: float) -> float:
    """The command's per-request deadline; `default` when the command set none."""
    return _now.request_s if _now.chosen else default


def run_time_left() -> float | None:
    """Seconds until the run's deadline (<= 0: passed); None when the run has none."""
    at = _now.run_at
    return None if at is None else at - time.monotonic()


def late(server: str, request: str, request_s: float) -> ServerTimeoutError:
    """The error for a request still unanswered at its deadline or at the run's, whichever
    passed: `server` names it ("Ollama at URL"), `request` is "GET /api/ps"."""
    run = _now
    if run.run_at is not None and time.monotonic() >= run.run_at - 0.001:
        return RunDeadlineError(
            f"{server} was still answering {request} when the run's deadline of {run.run_s:g} s "
            f"passed", hint=f"the server may be slow or stuck; allow the whole run more time "
                            f"with {run.run_option} SECONDS")
    return ServerTimeoutError(
        f"{server} did not finish {request} within {request_s:g} s",
        hint="the server may be overloaded or stuck; check its log, or allow more time with "
             f"{run.request_option} SECONDS")
