"""What `vllm serve` reads: value checks with its own parsing rules, the exact strings velollm
writes, the argv <-> settings translation, and the traps.

Settings are named as they are written: an argument by its long flag ("--max-model-len"), a
variable by its name ("VLLM_CPU_KVCACHE_SPACE"). Parsing rules (vllm/utils/argparse_utils.py):
max_model_len, max_num_batched_tokens and kv_cache_memory_bytes take 1k = 1000 and 1K = 1024;
other integers go through int(); a bool argument is a pair --x / --no-x and takes no value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from velollm.backends.vllm.knobdata import KNOBS, META_KEYS, NOT_KNOBS, TESTED, VllmKnob
from velollm.core.facts import Capabilities
from velollm.io.render import CONTROL_PROBLEM, control_character

__all__ = ["FLAG_KEY", "NAME_KEY", "USER_KEYS", "argv_settings", "capabilities",
           "human_readable_int", "setting_value", "settings_argv", "trap_warnings",
           "value_problem"]

# Every CLI spelling (and --no- form) -> the catalogue key, for reading a running server's argv.
FLAG_KEY: dict[str, str] = {f: k.key for k in KNOBS.values()
                            for f in (*k.flags, *([k.negative] if k.negative else []))}
# The name settings are written under -> the catalogue key.
NAME_KEY: dict[str, str] = {k.name: k.key for k in KNOBS.values()}
USER_KEYS = frozenset({*KNOBS, *META_KEYS})
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_HINT = re.compile(r"(\d+(?:\.\d+)?)([kKmMgGtT])")


def human_readable_int(text: str) -> int:
    """vLLM's human_readable_int: 1k = 1000, 1K = 1024, 25.6k = 25600, else int()."""
    value = text.strip()
    m = _HINT.fullmatch(value)
    if m:
        number, suffix = m.groups()
        power = "kmgt".index(suffix.lower()) + 1
        if suffix.islower():
            return int(float(number) * 10 ** (3 * power))
        return int(float(number) * 2 ** (10 * power))
    return int(value)


def capabilities(version: str | None) -> Capabilities:
    """What this version reads. Only 0.32.0's source was read: other versions are planned as
    0.32.0, which plan says (trap_warnings)."""
    return Capabilities(backend="vllm", title="vLLM", version=version, known=frozenset(KNOBS),
                        not_read=dict(NOT_KNOBS))


def _number_problem(knob: VllmKnob, value: object) -> str | None:
    if isinstance(value, bool):
        return f"{value!r} is not a number"
    text = str(value).strip()
    try:
        if knob.type == "float":
            number: float = float(text)
        elif knob.type == "hint":
            number = -1 if text.lower() == "auto" and knob.key == "max_model_len" \
                else human_readable_int(text)
        else:
            number = int(text)
    except ValueError:
        shape = {"float": "a number", "int": "a whole number",
                 "hint": "a whole number (1k = 1000, 1K = 1024 as vLLM reads them)"}
        return f"{value!r} is not {shape[knob.type]}: vLLM refuses it and does not start"
    low, high = knob.minimum, knob.maximum
    if low is not None and (number < low or (knob.above_minimum and number == low)):
        return f"{text} is {'not above' if knob.above_minimum else 'below'} the minimum of {low:g}"
    if high is not None and number > high:
        return f"{text} is above the maximum of {high:g}"
    if knob.key == "max_model_len" and number == 0:
        return "0 tokens per request serves nothing: give a length, or auto"
    return None


def _typed_problem(knob: VllmKnob, value: object) -> str | None:
    if knob.type in ("int", "hint", "float"):
        return _number_problem(knob, value)
    if knob.type == "bool":
        if isinstance(value, bool) or str(value).strip().lower() in (*_TRUE, *_FALSE):
            return None
        return f"{value!r} is not a boolean: write true or false"
    if knob.type == "enum":
        if isinstance(value, str) and value in knob.choices:
            return None
        return f"{value!r} is not one of {', '.join(knob.choices)}"
    if knob.type == "json":
        if isinstance(value, Mapping):
            return None
        try:
            ok = isinstance(json.loads(str(value)), dict)
        except ValueError:
            ok = False
        return None if ok else f"{value!r} is not a JSON object"
    if knob.type == "list":
        items = value if isinstance(value, list) else [value]
        if items and all(isinstance(i, str) and i and not re.search(r"\s", i) for i in items):
            return None
        return f"{value!r} is not a name or a list of names without spaces"
    if not isinstance(value, str) or not value:
        return f"{value!r} is not a string"
    return None


def value_problem(key: str, value: object) -> str | None:
    """Why vLLM would misread `value` for `key` (None: it reads it as meant)."""
    if key in NOT_KNOBS and key not in KNOBS:
        return NOT_KNOBS[key]
    if key in META_KEYS:
        return None  # the schema checks model, binary and image
    if value is None:
        return "a value is needed here (null given)"
    knob = KNOBS.get(key)
    if knob is None:
        return f"{key} is not a vLLM setting velollm knows"
    if value == "auto":
        # dtype: auto is vLLM's own default, which leaving it unset gives too
        ok = knob.tunable or "auto" in knob.choices
        return None if ok else f"{key} cannot be auto: give a value"
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(t, str) and control_character(t) for t in texts):
        return CONTROL_PROBLEM
    return _typed_problem(knob, value)


def setting_value(key: str, value: object) -> str:
    """The exact string velollm writes for catalogue knob `key`. Bools are "true"/"false"
    (an argument becomes --x or --no-x; a variable "1" or "0"), lists are space-separated
    words, JSON objects compact JSON, -1 for max_model_len auto."""
    knob = KNOBS[key]
    if knob.type == "bool":
        on = value if isinstance(value, bool) else str(value).strip().lower() in _TRUE
        if knob.env:
            return "1" if on else "0"
        return "true" if on else "false"
    if knob.type == "list":
        return " ".join(value) if isinstance(value, list) else str(value)
    if knob.type == "json":
        data = value if isinstance(value, Mapping) else json.loads(str(value))
        return json.dumps(data, separators=(",", ":"), sort_keys=True)
    return str(value)


def settings_argv(settings: Mapping[str, str]) -> list[str]:
    """The argument settings (named by flag) as vllm serve's argv, in a stable order."""
    argv: list[str] = []
    for name in sorted(n for n in settings if n.startswith("--")):
        value = settings[name]
        knob = KNOBS[NAME_KEY[name]]
        if knob.type == "bool":
            argv.append(name if value == "true" else str(knob.negative))
        elif knob.type == "list":
            argv += [name, *value.split()]
        else:
            argv += [name, value]
    return argv


def argv_settings(argv: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """(the model, {name: value}) of a `vllm serve` / api_server command line, as velollm names
    them; flags velollm does not catalogue are left out. `--flag=value` is read too."""
    model: str | None = None
    out: dict[str, str] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        i += 1
        values = [inline] if eq else []
        while not eq and i < len(args) and not _is_flag(args[i]):
            values.append(args[i])
            i += 1
        if flag == "--model" and values:
            model = values[0]
            continue
        key = FLAG_KEY.get(flag)
        if key is None:
            continue
        knob = KNOBS[key]
        if knob.type == "bool":
            out[knob.flags[0]] = "false" if flag == knob.negative else "true"
        elif values:
            out[knob.flags[0]] = " ".join(values) if knob.type == "list" else values[0]
    return model, out


def _is_flag(arg: str) -> bool:
    return arg.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", arg)


def trap_warnings(server: Mapping[str, object], version: str | None) -> list[str]:
    """Settings that look right but do not do what they say."""
    out: list[str] = []
    if version is not None and version.split("+")[0] != TESTED:
        out.append(f"vLLM {version} is planned with the catalogue of {TESTED} (the version "
                   "velollm read): an argument it does not know stops it at start")
    mml = server.get("max_model_len")
    if isinstance(mml, str) and _HINT.fullmatch(mml.strip()) and mml.strip()[-1] in "kmgt":
        out.append(f"max_model_len {mml} is {human_readable_int(mml):,} tokens: vLLM reads a "
                   f"lower-case suffix as a power of 1000 (write {mml.strip()[:-1]}K for "
                   f"{human_readable_int(mml.strip()[:-1] + 'K'):,})")
    if server.get("cpu_kvcache_space") not in (None, "auto") and \
            server.get("kv_cache_memory_bytes") is not None:
        out.append("cpu_kvcache_space and kv_cache_memory_bytes both size the KV cache: on "
                   "the CPU build VLLM_CPU_KVCACHE_SPACE wins")
    if server.get("kv_cache_memory_bytes") is not None and \
            server.get("gpu_memory_utilization") not in (None, "auto"):
        out.append("gpu_memory_utilization does not size the KV cache while "
                   "kv_cache_memory_bytes is set")
    if server.get("trust_remote_code") is True:
        out.append("trust_remote_code runs Python from the model repository with the "
                   "server's rights")
    return out


def canonical(name: str, value: str) -> str:
    """A written or reported value in one form, so "1k" and "1000", "0.90" and "0.9" compare
    equal (names as written: "--max-model-len")."""
    knob = KNOBS.get(NAME_KEY.get(name, ""))
    if knob is None:
        return value
    try:
        if knob.type == "float":
            return repr(float(value))
        if knob.type == "hint":
            return str(-1 if value.strip().lower() == "auto" else human_readable_int(value))
        if knob.type == "int":
            return str(int(value))
    except ValueError:
        return value
    return value
