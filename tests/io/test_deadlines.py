"""io/deadlines.py: the command's deadlines reach every request, the sooner of the two wins, and
the message says which one passed and which option allows more."""

from __future__ import annotations

import socket
import time

import pytest

from velollm.errors import ServerTimeoutError
from velollm.io.deadlines import RunDeadlineError, current, deadlines, run_time_left
from velollm.io.http import Http, Limits


def _silent() -> socket.socket:
    """Takes connections, never answers."""
    return socket.create_server(("127.0.0.1", 0))


def test_outside_a_command_nothing_bounds_the_run() -> None:
    assert run_time_left() is None and current().chosen is False


def test_the_request_deadline_comes_from_the_command_unless_the_client_sets_its_own() -> None:
    with deadlines(7, 60):
        assert Http("http://127.0.0.1:1", "T").request_s() == 7
        assert Http("http://127.0.0.1:1", "T", Limits(deadline_s=3)).request_s() == 3
        left = run_time_left()
        assert left is not None and 59 < left <= 60
    assert run_time_left() is None  # restored after the command


def test_a_request_ends_at_its_own_deadline() -> None:
    with _silent() as sock, deadlines(0.3, 60, request_option="--timeout"):
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with pytest.raises(ServerTimeoutError, match=r"did not finish GET /x within 0\.3 s") \
                as info:
            Http(url, "T", retries=0).json("GET", "/x")
    assert not isinstance(info.value, RunDeadlineError)
    assert info.value.hint is not None and "--timeout SECONDS" in info.value.hint


def test_the_run_deadline_cuts_a_request_short_and_says_so() -> None:
    with _silent() as sock, deadlines(30, 0.3, run_option="--deadline"):
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(RunDeadlineError, match=r"was still answering GET /x when the run's "
                                                   r"deadline of 0\.3 s passed") as info:
            Http(url, "T", retries=0).json("GET", "/x")
        assert time.monotonic() - started < 2
        with pytest.raises(RunDeadlineError):  # the next request does not even start
            Http(url, "T", retries=0).json("GET", "/y")
    assert info.value.hint is not None and "--deadline SECONDS" in info.value.hint
