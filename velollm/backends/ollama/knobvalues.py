"""Ollama's own parsing rules for a server variable's value (envconfig/config.go, ollama-facts.md
§1.1): why a value would be misread, and the exact string to put in the environment.
"""

from __future__ import annotations

import re

from velollm.backends.ollama.knobdata import (
    MODEL_KNOBS,
    NOT_KNOBS,
    SERVER_KNOBS,
    KnobType,
    ServerKnob,
)
from velollm.core import gotypes
from velollm.core.planner import ParamValue
from velollm.io.render import CONTROL_PROBLEM, control_character

# §1.1: Ollama reads a duration with Go's time.ParseDuration, else as whole seconds (Atoi).
_SECONDS = re.compile(r"^[-+]?\d+$")
_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$")
_UNITS = {None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _text_problem(value: str) -> str | None:
    # A value must survive a shell, systemd Environment= and a plist string: no line breaks or
    # control characters (quotes, $ and backticks are fine: the renderers escape them).
    return CONTROL_PROBLEM if control_character(value) else None


def _bool_problem(value: object) -> str | None:
    # §1.1: Ollama reads a bool with strconv.ParseBool, and anything it refuses as TRUE.
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return None
    if isinstance(value, str) and gotypes.parse_bool(value.strip().strip("\"'")) is not None:
        return None
    return (f"{value!r} is not a boolean Ollama can parse (it would silently read it as TRUE): "
            "write true or false")


def _uint_problem(knob: ServerKnob, value: object) -> str | None:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or number < 0:
        return (f"{value!r} is not a whole number >= 0 (Ollama would ignore it and silently use "
                f"the default, {knob.default or 'unset'})")
    if knob.maximum is not None and number > knob.maximum:
        return f"{number} is greater than the maximum of {knob.maximum}"
    return None


def _duration_problem(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return None  # whole seconds (§1.1)
    if isinstance(value, str) and (gotypes.DURATION.match(value) or _SECONDS.match(value)):
        return None
    return (f"{value!r} is not a duration: write e.g. 30m, 1h30m, 3600 (seconds), 0 (unload "
            "at once) or -1 (forever)")


def duration_seconds(text: str) -> float | None:
    """Seconds in a duration as Ollama reads it: Go's ("30m", "1h30m0s"), else whole seconds
    ("3600", "-1"); None when Ollama cannot read it (and silently uses the default)."""
    s = text.strip()
    return float(s) if _SECONDS.match(s) else gotypes.parse_duration(s)


def _bytes_problem(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return None
    if isinstance(value, str) and _BYTES.match(value.strip()):
        return None
    return f"{value!r} is not a size: write bytes (e.g. 536870912) or 512MiB, 1GiB"


def _host_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return f"{value!r} is not a host: write e.g. 127.0.0.1:11434 or 0.0.0.0"
    hostport = value.split("://", 1)[-1].split("/", 1)[0]
    port = hostport.rsplit("]", 1)[-1] if hostport.startswith("[") else hostport
    if port.count(":") == 1:
        digits = port.split(":")[1]
        if not digits.isdigit() or int(digits) > 65535:
            return (f"port {digits!r} is not a port number 0-65535 (Ollama would silently use "
                    "11434)")
    return None


def _list_problem(value: object) -> str | None:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, (str, int)) and not isinstance(i, bool) for i in items):
        return f"{value!r} is not a list of names: write a list or a comma-separated string"
    return None


def _typed_problem(knob: ServerKnob, value: object) -> str | None:
    kind: KnobType = knob.type
    if kind == "bool":
        return _bool_problem(value)
    if kind == "uint":
        return _uint_problem(knob, value)
    if kind == "duration":
        return _duration_problem(value)
    if kind == "bytes":
        return _bytes_problem(value)
    if kind == "host":
        return _host_problem(value)
    if kind == "list":
        return _list_problem(value)
    if kind == "level":
        # §1.1: 1/true = DEBUG, an integer n = level -4n (2 = TRACE).
        text = str(value).strip() if isinstance(value, (str, int)) else ""
        if isinstance(value, bool) or gotypes.parse_bool(text) is not None or (
                text.isdigit() and int(text) <= 4):
            return None
        return f"{value!r} is not a log level: write false, true (DEBUG) or 2 (TRACE)"
    if kind == "enum":
        if isinstance(value, str) and value.lower() in knob.choices:
            return None
        return f"{value!r} is not one of {', '.join(knob.choices)}"
    if not isinstance(value, str):  # string, path
        return f"{value!r} is not a string"
    return None


def value_problem(key: str, value: object) -> str | None:
    """Why Ollama would misread `value` for server knob `key` (None: it reads it as meant)."""
    if key in NOT_KNOBS:
        return NOT_KNOBS[key]
    knob = SERVER_KNOBS.get(key)
    if knob is None:
        return f"{key} is not an Ollama server variable"
    if value is None:
        return "a value is needed here (null given)"
    if value == "auto":
        return None if knob.tunable else f"{key} cannot be auto: give a value"
    texts = value if isinstance(value, list) else [value]
    for text in texts:
        if isinstance(text, str) and (problem := _text_problem(text)):
            return problem
    return _typed_problem(knob, value)


def env_value(key: str, value: object) -> str:
    """The exact string to put in the environment for a YAML value (True -> "1", 8192 -> "8192").

    Raises ValueError for a value value_problem() refuses, and for "auto" (resolve it first).
    """
    problem = value_problem(key, value)
    if problem or value == "auto":
        raise ValueError(f"{key}: {problem or 'auto must be resolved before rendering'}")
    kind = SERVER_KNOBS[key].type
    if isinstance(value, bool):
        return "1" if value else "0"
    if kind == "list" and isinstance(value, list):
        return ",".join(str(v) for v in value)
    if kind == "bytes" and isinstance(value, str):
        m = _BYTES.match(value.strip())
        assert m is not None  # value_problem checked it
        return str(int(float(m.group(1)) * _UNITS[m.group(2)]))
    if kind == "enum" and isinstance(value, str):
        return value.lower()
    return str(value)


def param_value(key: str, value: object) -> ParamValue:
    """A model parameter as the Modelfile holds it (True -> "true"). Stop is always a tuple: Ollama
    keeps every `PARAMETER stop` line, so `stop: x` and `stop: [x]` are the same one line."""
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    text = str(value).lower() if isinstance(value, bool) else str(value)
    knob = MODEL_KNOBS.get(key)
    return (text,) if knob is not None and knob.type == "stop" else text
