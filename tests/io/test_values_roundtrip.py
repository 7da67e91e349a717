"""Generated hostile values through every target's real parser (issue 15).

Each example is a batch of values: every one is either refused by the renderer with a message
naming the variable, or written so that bash, zsh, sh, fish, systemd-analyze and plistlib (with
the /bin/sh that launchd runs) give back exactly that value, and velollm's own read-back
(velollm/io/readback.py, the "before" of the next plan) reads exactly that value too, so a second
plan after apply finds nothing to change. One subprocess per parser checks a whole batch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.io import realparsers
from velollm.backends.ollama.targets import render_target
from velollm.errors import ConfigError
from velollm.io import readback
from velollm.io.render import MAX_VALUE_BYTES, check_value

# Pieces that mean something to at least one syntax, mixed with arbitrary characters.
HAZARDS = ("'", '"', "\\", "$", "${", "$(", "`", "%", "%%", "%n", "!", ";", "&", "|", "#", "~",
           "*", "?", "[", "{", "}", " ", "\t", "\n", "\r", "\x00", "\x1b", "\x7f", "\x85",
           "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff", "\ufdd0", "\uf600", "\U0010ffff",
           "é", "漢", "😀", "\u0301", "\u00a0", "-e", "--", "=", "\\n", "'\\''", "\\\\")
_PIECE = st.one_of(st.sampled_from(HAZARDS), st.characters(codec="utf-8"),
                   st.characters(max_codepoint=0x7f))
VALUE = st.one_of(
    st.lists(_PIECE, max_size=12).map("".join),
    st.builds(lambda core, pad: pad + core + pad, st.lists(_PIECE, max_size=6).map("".join),
              st.sampled_from([" ", "  ", "\t"])),
    st.integers(MAX_VALUE_BYTES - 2, MAX_VALUE_BYTES + 2).map(lambda n: "x" * n),
)
BATCH = st.lists(VALUE, min_size=1, max_size=30)
# Real shells are subprocesses: a few batches each, many values per batch.
SETTINGS = settings(max_examples=8, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
KNOWN = ["\u2028", "a\u0085b", "\ufffe", "\ufdd0", "\U0010ffff", ";", "x;y", "'", "%%", "\\",
         "end\\", " lead and trail ", "$HOME ${HOME} $(id) `id`", "-e", "\u00a0"]


def _split(values: list[str]) -> dict[str, str]:
    """The values every target must carry exactly; each refused one is checked for its message."""
    accepted = {}
    for i, value in enumerate(values):
        name = f"OLLAMA_V{i:02d}"
        try:
            check_value(value, name)
        except ConfigError as exc:
            assert exc.path == name and name in exc.message and "\n" not in exc.message
            with pytest.raises(ConfigError):  # and no renderer writes it either
                render_target("shell", {name: value}, path=Path("/nonexistent/f"))
            continue
        accepted[name] = value
    return accepted


def _roundtrip(kind: str, values: list[str],
               parse: Callable[[str, Path], dict[str, str] | None]) -> None:
    env = _split(values)
    [rendered] = render_target(kind, env, path=Path("/nonexistent/file"), home=Path("/nonexistent"))
    assert readback.parse_env_file(kind, rendered.content) == env, "velollm's read-back differs"
    with TemporaryDirectory() as tmp:
        got = parse(rendered.content, Path(tmp))
    if got is None:
        pytest.skip(f"the real parser for {kind} is not installed here")
    assert {k: got.get(k) for k in env} == env


@pytest.mark.parametrize("shell", ["bash", "zsh", "sh"])
@SETTINGS
@given(values=BATCH)
@example(values=KNOWN)
def test_posix_shells_read_back_every_accepted_value(shell: str, values: list[str]) -> None:
    _roundtrip("shell", values, lambda text, tmp: realparsers.posix_shell(shell, text, tmp))


@SETTINGS
@given(values=BATCH)
@example(values=KNOWN)
def test_fish_reads_back_every_accepted_value(values: list[str]) -> None:
    _roundtrip("fish", values, realparsers.fish)


@SETTINGS
@given(values=BATCH)
@example(values=KNOWN)
def test_systemd_reads_back_every_accepted_value(values: list[str]) -> None:
    _roundtrip("systemd", values, realparsers.systemd)


@SETTINGS
@given(values=BATCH)
@example(values=KNOWN)
def test_launchd_plist_and_its_sh_read_back_every_accepted_value(values: list[str]) -> None:
    _roundtrip("launchd", values, realparsers.launchd)


@settings(max_examples=60, deadline=None, database=None)
@given(values=BATCH)
def test_every_render_is_repeatable_and_reads_back(values: list[str]) -> None:
    """Pure, so many more examples: render -> read back -> render again is the same file."""
    env = _split(values)
    for kind in ("shell", "fish", "systemd", "systemd-user", "launchd"):
        [first] = render_target(kind, env, path=Path("/nonexistent/f"))
        back = readback.parse_env_file(kind, first.content)
        assert back == env, kind
        [again] = render_target(kind, back, path=Path("/nonexistent/f"))
        assert again.content == first.content, kind


@pytest.mark.parametrize(("value", "says"), [
    ("\ufffe", "noncharacter U+FFFE"), ("a\U0010ffffb", "noncharacter U+10FFFF"),
    ("x" * (MAX_VALUE_BYTES + 1), f"at most {MAX_VALUE_BYTES} bytes"),
    ("\ud800", "not valid Unicode"), ("a\nb", "control character")])
def test_refusals_name_the_variable_and_the_reason(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match="OLLAMA_X") as info:
        render_target("systemd", {"OLLAMA_X": value}, path=Path("/nonexistent/f"))
    assert says in info.value.message


def test_launchd_refuses_a_command_line_longer_than_one_argument() -> None:
    env = {f"OLLAMA_V{i:02d}": "x" * MAX_VALUE_BYTES for i in range(20)}
    with pytest.raises(ConfigError, match="LaunchAgent's command line"):
        render_target("launchd", env, path=Path("/nonexistent/f"))


@pytest.mark.parametrize("name", ["_", "PWD", "SHLVL", "IFS", "PATH", "BASH_ENV", "EUID",
                                  "RANDOM", "COLUMNS", "FISH_VERSION", "status", "https_proxy"])
def test_names_the_shells_own_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="belongs to the shells"):
        render_target("shell", {name: "1"}, path=Path("/nonexistent/f"))


@pytest.mark.parametrize("program", ["/opt/o'llama/ollama", '/opt/"o"/ollama', "/opt/a\\b/ollama",
                                     "relative/ollama"])
def test_systemd_user_unit_refuses_a_program_path_systemd_cannot_start(program: str) -> None:
    with pytest.raises(ConfigError, match="systemd cannot start the program"):
        render_target("systemd-user", {"OLLAMA_HOST": "h"}, path=Path("/nonexistent/f"),
                      ollama=program)


@settings(max_examples=60, deadline=None, database=None)
@given(stops=st.lists(VALUE, min_size=1, max_size=5))
def test_modelfile_stop_sequences_read_back_or_are_refused(stops: list[str]) -> None:
    """Ollama's Modelfile parser has no escapes (readback.parse_modelfile is its rules; the real
    one is checked in tests/backends/ollama/test_modelfile_realserver.py)."""
    try:
        [rendered] = render_target("modelfile", {}, path=Path("/nonexistent"),
                                   models={"m:1": {"stop": tuple(stops)}})
    except ConfigError as exc:
        assert "m:1.stop" in exc.message or "Modelfile" in exc.message
        return
    assert readback.parse_modelfile(rendered.content) == ("m:1", {"stop": tuple(stops)})
