"""control_character: the one check for what no target file can hold (config, knobs, renderers)."""

from __future__ import annotations

import pytest

from velollm.backends.ollama.knobs import value_problem
from velollm.errors import ConfigError
from velollm.io.render import CONTROL_PROBLEM, check_value, control_character


@pytest.mark.parametrize(("text", "found"), [
    ("30m", None), ("a b 'c' $d `e`", None), ("é ü 中", None), ("a\nb", "\n"), ("\x00", "\x00"),
    ("x\x1b[0m", "\x1b"), ("del\x7f", "\x7f"), ("\r\n", "\r"), ("a\tb", "\t")])
def test_control_character(text: str, found: str | None) -> None:
    assert control_character(text) == found


def test_tab_ok_lets_only_the_tab_through() -> None:
    assert control_character("a\tb", tab_ok=True) is None
    assert control_character("a\t\nb", tab_ok=True) == "\n"


def test_every_user_of_it_refuses_the_same_characters() -> None:
    assert value_problem("keep_alive", "30m\n") == CONTROL_PROBLEM
    with pytest.raises(ConfigError, match=r"contains the control character '\\n'"):
        check_value("30m\n", "OLLAMA_KEEP_ALIVE")
