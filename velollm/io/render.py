"""The Jinja2 environment and the escaping filters, one per target syntax (issue 5).

Every value is validated before it is quoted: a value that cannot round-trip through a shell, fish,
systemd or a plist (newline, NUL, other control characters) is rejected with a clear error instead
of being written. The filters are the single place quoting rules live; the tests source the rendered
files in real bash, zsh, fish and systemd-analyze and read every value back.
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
# C0 controls (newline, tab, NUL, ESC, ...) and DEL: none survive every target's syntax unchanged.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
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
    return name


def check_value(value: str, name: str = "") -> str:
    """Reject what cannot be written exactly: control characters and invalid UTF-8."""
    if not isinstance(value, str):
        raise ConfigError(f"value of {name or 'setting'} must be a string, got {type(value).__name__}",
                          path=name)
    bad = control_character(value)
    if bad:
        raise ConfigError(
            f"value of {name or 'setting'} contains the control character {bad!r}, "
            "which cannot be written to a shell, fish, systemd or launchd file exactly",
            hint="remove newlines, tabs and other control characters from the value", path=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(f"value of {name or 'setting'} is not valid Unicode text ({exc.reason})",
                          path=name) from None
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
    escaped = check_value(assignment).replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


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
