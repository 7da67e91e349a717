"""What llama-server reads: builds, value checks with arg.cpp's own parsing rules, the exact
LLAMA_ARG_* strings, the flag -> variable table for argv readers, and the traps.

Parsing rules (common/arg.cpp): integers go through std::stoi, so "8k" or "" stops the server at
start ("error while handling environment variable ... stoi", measured on 11669); a bool pair
accepts on|enabled|true|1 and off|disabled|false|0 and refuses anything else ("invalid boolean
value"); a switch without a --no- form is turned on by a truthy value and cannot be turned off.
"""

from __future__ import annotations

import re

from velollm.backends.llamacpp.knobdata import (
    DERIVED,
    KNOBS,
    META_KEYS,
    NOT_KNOBS,
    REMOVED_FLAGS,
    TESTED,
    USER_ALIASES,
    LlamaKnob,
)
from velollm.core.facts import Capabilities
from velollm.io.render import CONTROL_PROBLEM, control_character

__all__ = ["FLAG_ENV", "NEGATIVE_FLAGS", "REMOVED_ENV", "USER_KEYS", "capabilities",
           "env_value", "parse_build", "reads", "trap_warnings", "value_problem", "why_not_read"]

# Every CLI spelling -> its LLAMA_ARG_* name (for reading a running server's argv).
FLAG_ENV: dict[str, str] = {f: k.env for k in KNOBS.values() if k.env
                            for f in (*k.flags, *k.negative)}
# Spellings that set their variable's setting to false ("--no-cont-batching").
NEGATIVE_FLAGS = frozenset(f for k in KNOBS.values() for f in k.negative)
# Variables of removed arguments: 11669 refuses to start while one is set (measured:
# `error while handling environment variable "LLAMA_ARG_DRAFT_MAX": the argument has been
# removed`), so a stale one in a shell or unit is a failed start, not a no-op.
REMOVED_ENV = {"LLAMA_ARG_DRAFT_MAX": "draft_max", "LLAMA_ARG_DRAFT_MIN": "draft_min"}
# The keys of velollm.yaml's server: section for backend llamacpp.
USER_KEYS = frozenset({*(k for k in KNOBS if k not in DERIVED and KNOBS[k].env),
                       *USER_ALIASES, *META_KEYS})
TUNABLE = frozenset({*(k for k, v in KNOBS.items() if v.tunable), *USER_ALIASES,
                     "context_length"})
_TRUE = ("on", "enabled", "true", "1")
_FALSE = ("off", "disabled", "false", "0")
NEWEST = 10**9


def parse_build(text: str) -> int:
    """ "b11669" -> 11669; "version: 0.7.0 (build 11669, commit Debian)" -> 11669;
    "version: 11669 (abc123)" -> 11669. ValueError when there is no build number."""
    s = text.strip()
    m = re.search(r"build\s+(\d+)", s) or re.search(r"version:\s*(\d+)\b", s) or \
        re.fullmatch(r"b?(\d+)", s)
    if not m:
        raise ValueError(f"not a llama.cpp build: {text!r}")
    return int(m.group(1))


def _build(version: str | None) -> int:
    if version is None:
        return NEWEST
    try:
        return parse_build(version)
    except ValueError:
        return NEWEST  # an unknown form: assume the newest, as for an unknown version


def reads(key: str, version: str | None) -> bool:
    """Does this build read the catalogue knob `key`? None = unknown build: the newest."""
    knob = KNOBS.get(key)
    if knob is None or knob.env is None:
        return False
    b = _build(version)
    if knob.introduced and b < int(knob.introduced):
        return False
    return not (knob.removed and b >= int(knob.removed))


def why_not_read(key: str, version: str | None) -> str:
    if key in NOT_KNOBS:
        return NOT_KNOBS[key]
    knob = KNOBS.get(key)
    if knob is None:
        return f"{key} is not a llama-server setting velollm knows"
    if reads(key, version):
        return ""
    shown = f"build {_build(version)}" if version else "the newest build"
    if knob.introduced and _build(version) < int(knob.introduced):
        return (f"{knob.env} needs build {knob.introduced} or newer (the first build velollm "
                f"checked that reads it); this is {shown}")
    return f"{knob.env} is not read from build {knob.removed} on; this is {shown}"


def capabilities(version: str | None) -> Capabilities:
    """What this build reads, as the value the core plans with. Knobs are the catalogue keys
    plus velollm.yaml's context_length and kv_cache_type, which stand for catalogue knobs."""
    known = frozenset({*KNOBS, *USER_ALIASES})
    not_read = {key: why_not_read(key, version) for key in KNOBS if not reads(key, version)}
    for alias, parts in USER_ALIASES.items():
        missing = [p for p in parts if p in not_read]
        if missing:
            not_read[alias] = not_read[missing[0]]
    return Capabilities(backend="llamacpp", title="llama.cpp", version=version, known=known,
                        not_read={**not_read, **{k: v for k, v in NOT_KNOBS.items()
                                                 if k not in KNOBS}})


def _int_problem(knob: LlamaKnob, value: object) -> str | None:
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    if isinstance(value, bool) or not re.fullmatch(r"-?\d+", text):
        return (f"{value!r} is not a whole number: llama-server reads it with std::stoi and "
                "refuses to start")
    lowest = knob.minimum if knob.minimum is not None else (0 if knob.type == "uint" else None)
    if lowest is not None and int(text) < lowest:
        return f"{text} is less than the minimum of {lowest}"
    if knob.key == "parallel" and int(text) == 0:
        return "0 slots is refused by llama-server: give 1 or more"
    if knob.key == "parallel" and int(text) < 0:
        return ("-1 leaves the slot count to llama-server, so velollm cannot size "
                "context_length per slot: write auto (velollm chooses) or a number")
    return None


def _typed_problem(knob: LlamaKnob, value: object) -> str | None:
    kind = knob.type
    if kind in ("int", "uint"):
        return _int_problem(knob, value)
    if kind in ("bool", "flag"):
        if isinstance(value, bool) or str(value).strip().lower() in (*_TRUE, *_FALSE):
            return None
        return f"{value!r} is not a boolean llama-server accepts: write true or false"
    if kind == "enum":
        text = {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value
        if isinstance(text, str) and text.lower() in knob.choices:
            return None
        return f"{value!r} is not one of {', '.join(knob.choices)}"
    if kind == "layers":
        if isinstance(value, str) and value in ("auto", "all"):
            return None
        return _int_problem(knob, value)
    if kind == "csv":
        items = value if isinstance(value, list) else str(value).split(",")
        if items and all(re.fullmatch(r"\d+(\.\d+)?", str(i).strip()) for i in items):
            return None
        return f"{value!r} is not a list of numbers: write e.g. [3, 1] or \"3,1\""
    if not isinstance(value, str) or not value:
        return f"{value!r} is not a string"
    return None


def value_problem(key: str, value: object) -> str | None:
    """Why llama-server would misread `value` for `key` (None: it reads it as meant)."""
    if key in NOT_KNOBS and key not in KNOBS:
        return NOT_KNOBS[key]
    if key in META_KEYS:
        return None  # the schema checks binary, host and models
    if value is None:
        return "a value is needed here (null given)"
    if key in USER_ALIASES:
        if key == "context_length":
            return None if value == "auto" else _int_problem(KNOBS["ctx_size"], value)
        key = USER_ALIASES[key][0]
    knob = KNOBS.get(key)
    if knob is None:
        return f"{key} is not a llama-server setting velollm knows"
    if value == "auto":
        ok = knob.tunable or knob.type == "layers" or "auto" in knob.choices
        return None if ok else f"{key} cannot be auto: give a value"
    for text in value if isinstance(value, list) else [value]:
        if isinstance(text, str) and control_character(text):
            return CONTROL_PROBLEM
    return _typed_problem(knob, value)


def env_value(key: str, value: object) -> str:
    """The exact string for the variable of catalogue knob `key` (True -> "1", on/off enums)."""
    knob = KNOBS[key]
    if knob.type == "enum" and isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, bool):
        return "1" if value else "0"
    if knob.type in ("bool", "flag"):
        return "1" if str(value).strip().lower() in _TRUE else "0"
    if knob.type == "csv" and isinstance(value, list):
        return ",".join(str(v) for v in value)
    if knob.type == "enum":
        return str(value).lower()
    return str(value)


def trap_warnings(server: dict[str, object], version: str | None) -> list[str]:
    """Settings that look right but do not do what they say on this build."""
    out = [why_not_read(k, version) for k in server
           if k in KNOBS and k not in DERIVED and not reads(k, version)]
    fa = server.get("flash_attention")
    fa_off = fa is False or str(fa).lower() == "off"
    for key in ("kv_cache_type", "kv_cache_type_v"):
        kv = server.get(key)
        if isinstance(kv, str) and kv.lower() not in ("auto", "f16", "f32", "bf16") and fa_off:
            out.append(f"{key} {kv} quantizes the V cache, which needs flash attention; with "
                       "flash_attention off llama-server fails to create the context")
    for flag_key in ("metrics", "swa_full", "cpu_moe"):
        if server.get(flag_key) is False:
            out.append(f"{flag_key}: false only leaves {KNOBS[flag_key].env} unset: the "
                       "variable can switch it on, never off (a --flag in the service's command "
                       "line still turns it on)")
    return out


def removed_flag_key(flag: str) -> str | None:
    """The knob a removed spelling stood for ("--draft-max" -> "draft_max")."""
    return REMOVED_FLAGS.get(flag)


def tested_build() -> str:
    return TESTED
