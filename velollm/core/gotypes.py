"""How Go parses booleans and durations: strconv.ParseBool and time.ParseDuration; and the times
Go writes into JSON (time.Time, RFC 3339 with nanoseconds).

Ollama (and the Go wrappers around llama.cpp) read their settings with these two functions, and a
value that looks right to a person but not to Go is silently misread. That is a fact about Go, not
about one backend, so the core and every backend share it from here. Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import datetime

# strconv.ParseBool accepts exactly these, case and all; anything else is an error.
BOOL_TRUE = ("1", "t", "T", "TRUE", "true", "True")
BOOL_FALSE = ("0", "f", "F", "FALSE", "false", "False")

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"  # Go wants a digit before or after the point
_UNIT = r"(?:ns|us|µs|μs|ms|s|m|h)"  # µ is U+00B5, μ is U+03BC: Go accepts both
# time.ParseDuration: an optional sign, then "0" or a sequence of number+unit (1h30m, 1.5s, .5ms).
DURATION = re.compile(rf"\A[-+]?(?:0|(?:{_NUMBER}{_UNIT})+)\Z")
_PART = re.compile(r"([0-9]*)\.?([0-9]*)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9,
            "m": 60 * 10**9, "h": 3600 * 10**9}
# A Go Duration is an int64 of nanoseconds: at most 2562047h47m16.854775807s.
_MAX_NS = 2**63 - 1
MAX_DURATION_S = _MAX_NS / 1e9


def parse_bool(text: str) -> bool | None:
    """strconv.ParseBool: True or False, None where Go returns an error (no trimming, as in Go)."""
    if text in BOOL_TRUE:
        return True
    if text in BOOL_FALSE:
        return False
    return None


def parse_duration(text: str) -> float | None:
    """time.ParseDuration in seconds; None where Go returns an error (syntax or int64 overflow).

    Counted in whole nanoseconds as Go does, so Go's largest duration ("2562047h47m16.854775807s",
    what a negative keep-alive becomes) comes out exactly equal to MAX_DURATION_S.
    """
    if not DURATION.match(text):
        return None
    negative = text.startswith("-")
    total_ns = 0
    for whole, fraction, unit in _PART.findall(text.lstrip("+-")):
        unit_ns = _UNIT_NS[unit]
        total_ns += int(whole or 0) * unit_ns
        if fraction:  # Go truncates what is below a nanosecond
            total_ns += int(fraction) * unit_ns // 10 ** len(fraction)
    if total_ns > _MAX_NS + (1 if negative else 0):  # int64 reaches one further below zero
        return None
    return (-total_ns if negative else total_ns) / 1e9


def parse_time(rfc3339: str) -> float | None:
    """A Go time.Time from JSON (RFC 3339, up to nanoseconds: Ollama's expires_at, modified_at) as
    a POSIX time; None when it is not one."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", rfc3339.strip()).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
