"""backends/wire.py: the field readers every client validates a server's answer with."""

from __future__ import annotations

from typing import Any

import pytest

from velollm.backends.wire import (
    MAX_NUMBER,
    Metrics,
    ShapeError,
    read_count,
    read_object,
    read_objects,
    read_strings,
    read_text,
)


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (0, 0), (5, 5), (5.0, 5), (MAX_NUMBER, MAX_NUMBER)])
def test_counts(value: object, expected: int | None) -> None:
    assert read_count({"n": value}, "n") == expected
    assert read_count({}, "n") is None


@pytest.mark.parametrize("value", [-1, 3.5, True, "5", [5], {"n": 5}, MAX_NUMBER + 1, 1e300,
                                   float("nan"), float("inf")])
def test_counts_refused(value: object) -> None:
    with pytest.raises(ShapeError, match=r"^x\.n is .*, not an integer from 0 to "):
        read_count({"n": value}, "n", "x.")


def test_text_object_lists() -> None:
    data: dict[str, Any] = {"s": "a", "o": {"k": 1}, "l": [{"a": 1}], "t": ["a", "b"],
                            "null": None}
    assert read_text(data, "s") == "a" and read_text(data, "null") == ""
    assert read_object(data, "o") == {"k": 1} and read_object(data, "null") == {}
    assert read_objects(data, "l") == [{"a": 1}] and read_objects(data, "null") == []
    assert read_strings(data, "t") == ("a", "b") and read_strings(data, "missing") == ()
    for read, key, said in ((read_text, "o", "o is {'k': 1}, not a string"),
                            (read_object, "s", "o is 'a', not an object".replace("o is", "s is")),
                            (read_objects, "o", "o is {'k': 1}, not a list"),
                            (read_strings, "l", "l is [{'a': 1}], not a list of strings")):
        with pytest.raises(ShapeError) as info:
            read(data, key)  # type: ignore[operator]
        assert str(info.value) == said
    with pytest.raises(ShapeError, match=r"l\[0\] is 1, not an object"):
        read_objects({"l": [1]}, "l")
    with pytest.raises(ShapeError, match="s is missing, not a non-empty string"):
        read_text({}, "s", required=True)


def test_metrics_refuse_wrong_types_and_keep_what_is_omitted() -> None:
    m = Metrics.from_json({"done": True, "eval_count": 3, "eval_duration": 2000000})
    assert (m.eval_count, m.eval_duration_ns, m.prompt_eval_duration_ns) == (3, 2000000, None)
    for bad in ({"eval_count": -1}, {"eval_duration": "2ms"}, {"done_reason": 5},
                {"total_duration": [1]}):
        with pytest.raises(ShapeError):
            Metrics.from_json({"done": True, **bad})
