"""Go's strconv.ParseBool and time.ParseDuration, as the Go programs velollm configures read them."""

from __future__ import annotations

import pytest

from velollm.core import gotypes


@pytest.mark.parametrize(("text", "value"), [
    ("1", True), ("t", True), ("T", True), ("TRUE", True), ("true", True), ("True", True),
    ("0", False), ("f", False), ("F", False), ("FALSE", False), ("false", False),
    ("False", False), ("yes", None), ("tRUE", None), (" true", None), ("", None), ("2", None)])
def test_parse_bool(text: str, value: bool | None) -> None:
    assert gotypes.parse_bool(text) is value


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0.0), ("-0", 0.0), ("+5s", 5.0), ("-1.5h", -5400.0), ("1h30m", 5400.0),
    ("30m0s", 1800.0), (".5s", 0.5), ("5.s", 5.0), ("1ms", 0.001), ("2us", 2e-6),
    ("3µs", 3e-6), ("3μs", 3e-6), ("7ns", 7e-9), ("1.0000000001s", 1.0),
    ("2562047h47m16.854775807s", gotypes.MAX_DURATION_S),
    ("-2562047h47m16.854775808s", -gotypes.MAX_DURATION_S),
    ("2562047h47m16.854775808s", None), ("3600", None), ("-1", None), ("", None), ("s", None),
    (".s", None), ("1x", None), ("1h 30m", None), ("--1s", None), ("30m\n", None),
    ("٣m", None)])
def test_parse_duration(text: str, seconds: float | None) -> None:
    got = gotypes.parse_duration(text)
    assert got == pytest.approx(seconds, abs=1e-12) if seconds is not None else got is None
    assert bool(gotypes.DURATION.match(text)) == (seconds is not None or text.startswith("25"))


def test_largest_duration_is_exact() -> None:
    assert gotypes.parse_duration("2562047h47m16.854775807s") == gotypes.MAX_DURATION_S
