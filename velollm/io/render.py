"""The Jinja2 environment and the rules for every value that reaches a parser (issues 5 and 15).

Every name and value is checked before it is quoted: what cannot round-trip exactly through bash,
zsh, sh, fish, systemd and a plist (plus the /bin/sh that launchd runs) is refused with a clear
error before anything is written, never written half-right. The quoting filters are the single
place the quoting rules live, for every backend (Ollama's targets, llama.cpp's); the tests read
generated values back through the real parsers (tests/io/realparsers.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from velollm.errors import ConfigError

if TYPE_CHECKING:
    from jinja2 import Environment

# POSIX/systemd-compatible environment variable names (systemd's env_name_is_valid is a superset).
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Names the shells own: read-only (EUID, fish's PWD and SHLVL), reset by the shell itself ($_,
# RANDOM, SECONDS, LINENO), typed (zsh's integer COLUMNS, HISTSIZE) or changing how it runs (IFS,
# PATH, ENV, BASH_ENV). Each was seen not to round-trip through bash, zsh, sh or fish; lower-case
# names are fish's and zsh's own variables (status, argv, path, history, fish_*).
SHELL_OWNED = frozenset({
    "_", "BASHOPTS", "BASHPID", "CDPATH", "COLUMNS", "DIRSTACK", "ENV", "EPOCHREALTIME",
    "EPOCHSECONDS", "ERRNO", "EUID", "FUNCNAME", "FUNCNEST", "GROUPS", "HISTCMD", "HISTSIZE",
    "HOME", "IFS", "KEYBOARD_HACK", "KEYTIMEOUT", "LINENO", "LINES", "MAILCHECK", "OLDPWD",
    "OPTARG", "OPTIND", "PATH", "PPID", "PS1", "PS2", "PS4", "PWD", "RANDOM", "SAVEHIST",
    "SECONDS", "SHELL", "SHELLOPTS", "SHLVL", "SRANDOM", "TMOUT", "TRY_BLOCK_ERROR",
    "TRY_BLOCK_INTERRUPT", "UID", "USERNAME"})
_SHELL_PREFIXES = ("BASH", "ZSH_", "FISH_", "LC_", "LANG")
# C0 controls (newline, tab, NUL, ESC, ...) and DEL: none survive every target's syntax unchanged.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Unicode noncharacters: systemd drops the whole assignment ("String is not UTF-8 clean", its
# unichar_is_valid) and XML, so a plist, cannot hold U+FFFE and U+FFFF at all.
_NONCHARACTER = re.compile("[\ufdd0-\ufdef" + "".join(
    chr(plane | 0xFFFE) + chr(plane | 0xFFFF) for plane in range(0, 0x110000, 0x10000)) + "]")
# One value must fit in one argv or environment string (Linux: MAX_ARG_STRLEN, 128 KiB, counts
# name, '=' and NUL), and launchd's /bin/sh -c line holds them all; no server variable needs more.
MAX_VALUE_BYTES = 8192
MAX_COMMAND_BYTES = 128 * 1024 - 1
# What the config check and the knob check say of such a value (check_value says it with the name).
CONTROL_PROBLEM = ("contains a line break or control character, which cannot be written safely "
                   "into a shell, systemd or plist string")
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*\Z")
_PARAM_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")


def control_character(text: str, *, tab_ok: bool = False) -> str | None:
    """The first character of `text` that no target writes exactly; None when there is none.

    tab_ok: the velollm.yaml check has always let tabs inside values through; the renderers
    (check_value) refuse them, so such a value fails at plan time with its name.
    """
    found = (_CONTROL_BUT_TAB if tab_ok else _CONTROL).search(text)
    return found.group() if found else None


def check_name(name: str, what: str = "environment variable") -> str:
    if not _ENV_NAME.match(name):
        raise ConfigError(f"{what} name {name!r} is not valid",
                          hint="use letters, digits and '_' only, not starting with a digit",
                          path=name)
    if name in SHELL_OWNED or name.startswith(_SHELL_PREFIXES) or name != name.upper():
        raise ConfigError(f"{what} name {name!r} belongs to the shells (bash, zsh or fish set or "
                          "read it themselves), so a file that sets it cannot be read back exactly",
                          hint="server variables are upper case, such as OLLAMA_HOST", path=name)
    return name


def writing_problem(value: str, *, tab_ok: bool = False,
                    max_bytes: int | None = MAX_VALUE_BYTES) -> str | None:
    """Why `value` cannot be written exactly into every target; None when it can.

    tab_ok: as for control_character (the velollm.yaml check)."""
    bad = control_character(value, tab_ok=tab_ok)
    if bad:
        return (f"contains the control character {bad!r}, which cannot be written to a shell, "
                "fish, systemd or launchd file exactly")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        return f"is not valid Unicode text ({exc.reason})"
    nonchar = _NONCHARACTER.search(value)
    if nonchar:
        return (f"contains the Unicode noncharacter U+{ord(nonchar.group()):04X}, which systemd "
                "and plist files refuse")
    if max_bytes is not None and size > max_bytes:
        return (f"is {size} bytes long; at most {max_bytes} bytes fit every target (an "
                "environment string and launchd's command line are limited)")
    return None


def check_value(value: str, name: str = "", *, max_bytes: int | None = MAX_VALUE_BYTES) -> str:
    """Refuse what cannot be written exactly: control characters, invalid UTF-8, noncharacters
    and values longer than `max_bytes`."""
    if not isinstance(value, str):
        raise ConfigError(f"value of {name or 'setting'} must be a string, got {type(value).__name__}",
                          path=name)
    problem = writing_problem(value, max_bytes=max_bytes)
    if problem:
        hint = ("remove newlines, tabs and other control characters from the value"
                if "control character" in problem else None)
        raise ConfigError(f"value of {name or 'setting'} {problem}", hint=hint, path=name)
    return value


def check_env(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """Validated (name, value) pairs in a stable order, so renders are byte-for-byte repeatable."""
    return [(check_name(k), check_value(v, k)) for k, v in sorted(env.items())]


def check_model(model: str) -> str:
    if not _MODEL_NAME.match(model):
        raise ConfigError(f"model name {model!r} is not valid for a Modelfile", path=model,
                          hint="use an Ollama model reference such as 'llama3.2:3b'")
    return model


def sh_quote(value: str) -> str:
    """POSIX single quotes: nothing inside is special; a ' is spliced in as '\\''."""
    return "'" + check_value(value).replace("'", "'\\''") + "'"


def fish_quote(value: str) -> str:
    """fish single quotes: only \\\\ and \\' are escapes inside them."""
    return "'" + check_value(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def systemd_quote(assignment: str) -> str:
    """One double-quoted word for Environment=.

    systemd unquotes with C-style escapes (so `\\` and `"` are backslashed) and expands specifiers
    (so `%` is doubled). `$` is literal in Environment= and must NOT be escaped: `\\$` is a syntax
    error there (checked with systemd-analyze verify).
    """
    # max_bytes=None: NAME=VALUE is longer than the value, which check_env limited already.
    escaped = check_value(assignment, max_bytes=None).replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def systemd_executable(path: str) -> str:
    """The program of ExecStart=, quoted. systemd expands specifiers there (so `%` is doubled),
    not $VARIABLES (those only in arguments), and refuses a program path holding a quote or a
    backslash ("Executable name contains special characters", its string_is_safe)."""
    if not path.startswith("/") or any(c in path for c in "'\"\\"):
        raise ConfigError(f"systemd cannot start the program {path!r}: the path must be absolute "
                          "and free of quotes and backslashes", path=path,
                          hint="install ollama under a plain path or put it on PATH there")
    return systemd_quote(path)


def check_command(line: str, what: str = "command line") -> str:
    """A whole command line that travels as one argv string (launchd's `/bin/sh -c LINE`)."""
    size = len(line.encode("utf-8"))
    if size > MAX_COMMAND_BYTES:
        raise ConfigError(f"the {what} would be {size} bytes long; at most {MAX_COMMAND_BYTES} "
                          "bytes fit one argument of a program", hint="shorten the values")
    return line


def modelfile_value(value: str) -> str:
    """A PARAMETER value as Ollama's parser reads it back (parser/parser.go ParseFile + unquote).

    The parser takes the rest of the line, trims whitespace and strips one pair of double quotes
    (or of tripled double quotes); there are no escapes and it drops non-printable runes. So: bare
    for one plain word, otherwise quoted as the docs show (tripled when the value starts with two
    quotes, where a single pair would read as the opening of a triple).
    """
    check_value(value)
    if not value.isprintable():  # same classes as Go's strconv.IsPrint
        raise ConfigError(f"Modelfile parameter value {value!r} contains a character that "
                          "Ollama's Modelfile parser drops", hint="use printable characters only")
    if value and not re.search(r"\s", value) and not value.startswith('"'):
        return value
    if value.startswith('""') or value == '"':  # else the wrapped form opens with three quotes
        return f'"""{value}"""'
    return f'"{value}"'


def comment_lines(header: str) -> list[str]:
    return [check_value(line, "header") for line in header.splitlines()]


@cache
def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from velollm.resources import data_dir

    env = Environment(loader=FileSystemLoader(str(data_dir("templates"))),
                      undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    env.filters.update(sh_quote=sh_quote, fish_quote=fish_quote, systemd_quote=systemd_quote,
                       modelfile_value=modelfile_value)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


@cache
def html_environment() -> Environment:
    """The pages of `velollm report` and `velollm dashboard` (web/): every value escaped."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    from velollm.resources import data_dir

    return Environment(loader=FileSystemLoader(str(data_dir("web"))), undefined=StrictUndefined,
                       autoescape=True, keep_trailing_newline=True)


def render_html(template: str, **context: Any) -> str:
    """`context` values are escaped; the |tojson filter embeds data safely in a <script>."""
    return html_environment().get_template(template).render(**context)
