"""Read the settings back out of a file velollm rendered, for every target syntax. Pure.

Used to learn what a target holds now (the "before" of a plan), including after a hand edit.
Each parser understands exactly the quoting its renderer emits (velollm/render.py) plus the
common hand-written forms; lines it does not understand are ignored, never executed.
"""

from __future__ import annotations

import plistlib
import re
import shlex
from collections.abc import Iterator
from typing import TYPE_CHECKING
from xml.parsers.expat import ExpatError

from velollm.io.systemd import parse_environment

if TYPE_CHECKING:
    from velollm.core.planner import ParamValue


def lines(text: str) -> list[str]:
    """The lines as the target's parser sees them: split at \\n only. str.splitlines() would also
    split at U+2028, U+0085 and friends, which are plain characters inside a value."""
    return text.split("\n")


def _pairs(words: list[str]) -> Iterator[tuple[str, str]]:
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key:
            yield key, value


def parse_shell(text: str) -> dict[str, str]:
    """`export NAME=value` sets, `unset [-v] NAME...` (velollm's lines for settings it no
    longer wants) removes, in the order the shell runs them."""
    env: dict[str, str] = {}
    for line in lines(text):
        stripped = line.strip(" \t\r")
        if not stripped.startswith(("export ", "unset ")):
            continue
        try:
            words = shlex.split(stripped, comments=True, posix=True)
        except ValueError:
            continue
        if words[0] == "export":
            env.update(_pairs(words[1:]))
        elif "-f" not in words[1:]:  # `unset -f` removes functions, not variables
            for name in words[1:]:
                env.pop(name, None)
    return env


def _fish_words(line: str) -> list[str]:
    """fish quoting: '...' with only \\\\ and \\' escapes; "..." with \\\\ \\" \\$; bare words."""
    words: list[str] = []
    word: list[str] = []
    quote: str | None = None
    i = 0
    in_word = False
    while i < len(line):
        ch = line[i]
        if quote is None and ch in " \t":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        elif quote is None and ch == "#":
            break
        elif quote is None and ch in "'\"":
            quote, in_word = ch, True
        elif quote is not None and ch == quote:
            quote = None
        elif ch == "\\" and i + 1 < len(line) and (
                (quote == "'" and line[i + 1] in "\\'")
                or (quote == '"' and line[i + 1] in '\\"$')
                or quote is None):
            word.append(line[i + 1])
            i += 1
            in_word = True
        else:
            word.append(ch)
            in_word = True
        i += 1
    if quote is not None:
        raise ValueError("unterminated quote")
    if in_word:
        words.append("".join(word))
    return words


def parse_fish(text: str) -> dict[str, str]:
    """`set -gx NAME value...` sets, `set -e [-g] NAME...` (velollm's lines for settings it no
    longer wants) erases, in the order fish runs them."""
    env: dict[str, str] = {}
    for line in lines(text):
        try:
            words = _fish_words(line.strip(" \t\r"))
        except ValueError:
            continue
        if not words or words[0] != "set":
            continue
        args = words[1:]
        n = next((i for i, w in enumerate(args) if not w.startswith("-")), len(args))
        flags, rest = args[:n], args[n:]
        if not rest:
            continue
        short = "".join(f[1:] for f in flags if not f.startswith("--"))
        if "--erase" in flags or "e" in short:
            for name in rest:
                env.pop(name, None)
        elif "--export" in flags or "x" in short:
            env[rest[0]] = " ".join(rest[1:])
    return env


def parse_systemd(text: str) -> dict[str, str]:
    return parse_environment(text)


def parse_launchd(text: str) -> dict[str, str]:
    try:
        plist = plistlib.loads(text.encode("utf-8"))
        script = plist["ProgramArguments"][-1]
        commands = sh_commands(script)
    except (plistlib.InvalidFileException, ExpatError, KeyError, IndexError, TypeError,
            ValueError):
        return {}  # not a plist of ours (a hand edit): nothing is read from it
    env: dict[str, str] = {}
    for command in commands:
        if len(command) == 4 and command[0].endswith("launchctl") and command[1] == "setenv":
            env[command[2]] = command[3]
    return env


# One piece of a /bin/sh word, or a separator: '...', "...", \\x, blank or ';', plain text.
_SH_PIECE = re.compile(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)|([;\s])|([^'"\\;\s]+)""", re.DOTALL)
_DQ_ESCAPE = re.compile(r"""\\([$`"\\\n])""")


def sh_commands(script: str) -> list[list[str]]:
    """A /bin/sh line split into simple commands at unquoted `;`, each into its words (shlex
    cannot tell a quoted ';' from the separator). ValueError on an unterminated quote."""
    commands: list[list[str]] = [[]]
    word: list[str] | None = None
    at = 0
    while at < len(script):
        piece = _SH_PIECE.match(script, at)
        if piece is None:
            raise ValueError(f"unterminated quote at {at}")
        at = piece.end()
        single, double, escaped, separator, plain = piece.groups()
        if separator is None:
            text = _DQ_ESCAPE.sub(r"\1", double) if double is not None else (
                single if single is not None else escaped if escaped is not None else plain)
            word = [*(word or []), text]
            continue
        if word is not None:
            commands[-1].append("".join(word))
            word = None
        if separator == ";":
            commands.append([])
    if word is not None:
        commands[-1].append("".join(word))
    return [c for c in commands if c]


def _unquote(value: str) -> str | None:
    """A PARAMETER value as Ollama reads it (parser.go unquote): one pair of tripled double quotes,
    else one pair of double quotes, else the text as it is; no escapes. None: an unclosed quote,
    which Ollama reads on into the next lines (velollm never writes one)."""
    if value.startswith('"""'):
        return value[3:-3] if len(value) >= 6 and value.endswith('"""') else None
    if value.startswith('"'):
        return value[1:-1] if len(value) >= 2 and value.endswith('"') else None
    return value


def parse_modelfile(text: str) -> tuple[str | None, dict[str, ParamValue]]:
    """(FROM model, PARAMETER name -> value); the `stop` lines, however many, are one tuple."""
    model: str | None = None
    params: dict[str, ParamValue] = {}
    stops: list[str] = []
    for line in lines(text):
        parts = line.strip().split(None, 2)
        if len(parts) >= 2 and parts[0].upper() == "FROM":
            model = parts[1]
        elif len(parts) == 3 and parts[0].upper() == "PARAMETER":
            value = _unquote(parts[2].strip())
            if value is None:
                continue
            if parts[1] == "stop":
                stops.append(value)
            else:
                params[parts[1]] = value
    if stops:
        params["stop"] = tuple(stops)
    return model, params


PARSERS = {"shell": parse_shell, "fish": parse_fish, "systemd": parse_systemd,
           "systemd-user": parse_systemd, "launchd": parse_launchd}


def parse_env_file(kind: str, text: str) -> dict[str, str]:
    return PARSERS[kind](text)
