"""What an Ollama server's log says: the variables it read, and those it read and then ignored.

Every Ollama from 0.5.4 to 0.33 prints one `server config env="map[...]"` line at start-up
(server/routes.go: `slog.Info("server config", "env", envconfig.Values())`, ollama-facts.md §1.1):
every variable that version lists, with the value it parsed, as Go prints a map[string]string:
keys sorted, `KEY:value` separated by spaces, values unquoted (they may hold spaces: OLLAMA_ORIGINS
is `[a b c]`). Values are Go-formatted: durations `30m0s`, OLLAMA_HOST a URL, OLLAMA_DEBUG a bool
up to 0.6 and a slog level (`INFO`, `DEBUG`, `DEBUG-4` = trace) from 0.7.0 (f95a1f2be).
The model loads are read by runnerlog.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from velollm.backends.ollama import knobs, runnerlog
from velollm.backends.ollama.current import endpoint
from velollm.backends.ollama.host import parse_host
from velollm.core import gotypes

_SERVER_CONFIG = re.compile(r'server config"? env="map\[(?P<body>.*)\]"')
# A candidate key: an upper-case variable name, or the lower-case proxies Ollama lists on Unix.
_KEY = re.compile(r"(?:^|(?<=\s))([A-Z][A-Z0-9]*_[A-Z0-9_]+|https?_proxy|no_proxy):")
_KNOWN = frozenset(knobs.ENV_TO_KEY) | {"http_proxy", "https_proxy", "no_proxy"}


def _same_duration(wanted: str, logged: str, zero_is_forever: bool = False) -> bool:
    w, lg = knobs.duration_seconds(wanted), knobs.duration_seconds(logged)
    if w is None or lg is None:
        return False
    # Ollama turns a negative keep-alive, and a load timeout <= 0, into its largest duration
    if w < 0 or (w == 0 and zero_is_forever):
        return lg >= gotypes.MAX_DURATION_S
    return abs(w - lg) < 1e-6


def go_level_name(level: int) -> str:
    """Go's slog.Level.String(): -4 DEBUG, -8 DEBUG-4, 0 INFO, 4 WARN, 8 ERROR, 2 INFO+2."""
    for base, name in ((8, "ERROR"), (4, "WARN"), (0, "INFO")):
        if level >= base:
            return name if level == base else f"{name}{level - base:+d}"
    return "DEBUG" if level == -4 else f"DEBUG{level + 4:+d}"


def _debug_forms(wanted: str) -> set[str]:
    """How each Ollama logs OLLAMA_DEBUG=wanted: a bool up to 0.6 (anything unparsable is true),
    envconfig.LogLevel() from 0.7.0: true = DEBUG, an integer n = slog.Level(-4n)."""
    truth = gotypes.parse_bool(wanted.strip())
    if truth is not None:
        return {"true", "DEBUG"} if truth else {"false", "INFO"}
    number = wanted.strip()
    if number.lstrip("-").isdigit():
        return {"true", go_level_name(-4 * int(number))}
    return {"true", "INFO"}


def _same_list(wanted: str, logged: str) -> bool:
    # OLLAMA_ORIGINS logs `[a b c]`, its built-in origins appended: every wanted one must be there
    items = logged.strip().removeprefix("[").removesuffix("]").split()
    return all(w.strip() in items for w in wanted.split(",") if w.strip())


def _same_value(knob: knobs.ServerKnob, wanted: str, logged: str) -> bool:
    kind = knob.type
    if kind == "duration":
        return _same_duration(wanted, logged, zero_is_forever=knob.key == "load_timeout")
    if kind == "level":
        return logged.strip() in _debug_forms(wanted)
    if kind == "host":
        return endpoint(parse_host(wanted)) == endpoint(parse_host(logged))
    if kind == "list":
        return _same_list(wanted, logged)
    return False


def normalize_log(log_config: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The log prints values Go-formatted (30m -> 30m0s, 1 -> DEBUG, a host as a URL, a list with
    Ollama's own items): where a logged value means the wanted one, use the wanted text so the
    effect check compares like with like."""
    out = dict(log_config)
    for env, value in wanted.items():
        knob = knobs.SERVER_KNOBS.get(knobs.ENV_TO_KEY.get(env, ""))
        logged = out.get(env)
        if knob is not None and logged is not None and _same_value(knob, value, logged):
            out[env] = value
    return out


def runner_parallel(log_text: str) -> int | None:
    """Slots of the last model load since the server's last start, whatever the log's era."""
    load = runnerlog.last_load(log_text)
    return None if load is None else load.parallel


# Only the last server start matters; a log of weeks can be gigabytes (or --log /dev/zero).
MAX_LOG_BYTES = 16 * 1024 * 1024


def read_log(path: Path) -> str:
    from velollm.io.inputfile import read_tail

    raw = read_tail(path, max_bytes=MAX_LOG_BYTES, what="an Ollama log",
                    hint="pass the file `ollama serve` writes its output to")
    return raw.decode("utf-8", errors="replace")


def _keys(body: str) -> list[re.Match[str]]:
    """The real keys among the candidates: Go prints a map's keys sorted, so they are the
    longest increasing run, known names counting double; a candidate out of order is text
    inside a value. Unknown keys of a newer Ollama (GGML_VK_VISIBLE_DEVICES, LLAMA_ARG_FIT...)
    are keys too, so they never swallow their neighbours."""
    found = list(_KEY.finditer(body))
    weight = [2 if m.group(1) in _KNOWN else 1 for m in found]
    best = list(weight)
    before = [-1] * len(found)
    for i, m in enumerate(found):
        for j in range(i):
            if found[j].group(1) < m.group(1) and best[j] + weight[i] > best[i]:
                best[i], before[i] = best[j] + weight[i], j
    keys: list[re.Match[str]] = []
    i = max(range(len(found)), key=best.__getitem__, default=-1)
    while i >= 0:
        keys.append(found[i])
        i = before[i]
    return keys[::-1]


def parse_server_config(log_text: str) -> dict[str, str] | None:
    """Values from the LAST `server config` line of an Ollama log (the current run)."""
    matches = list(_SERVER_CONFIG.finditer(log_text))
    if not matches:
        return None
    body = matches[-1].group("body")
    keys = _keys(body)
    values: dict[str, str] = {}
    for i, m in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(body)
        values[m.group(1)] = body[m.end():end].strip()
    return values


_FA_GONE = "the server read it but did not use flash attention"
_KV_GONE = "the server read it but did not quantize the KV cache"


def _line(pattern: str, env: str, why: str) -> tuple[re.Pattern[str], str, str]:
    return re.compile(pattern), env, why


# Log lines with which Ollama says it read a variable and then did not use it (llm/server.go
# v0.5.4-v0.24; the first and third measured on the 0.5.4 and 0.9.3 test runtimes).
_IGNORED_LOG_LINES = (
    _line(r"flash attention enabled but not supported by gpu", "OLLAMA_FLASH_ATTENTION",
          f"{_FA_GONE}: this device does not support it (its log: 'flash attention enabled "
          "but not supported by gpu')"),
    _line(r"flash attention enabled but not supported by model", "OLLAMA_FLASH_ATTENTION",
          f"{_FA_GONE}: the model does not support it (its log: 'flash attention enabled but "
          "not supported by model')"),
    _line(r"quantized kv cache requested but flash attention disabled", "OLLAMA_KV_CACHE_TYPE",
          f"{_KV_GONE} without flash attention (its log: 'quantized kv cache requested but "
          "flash attention disabled')"),
    _line(r"OLLAMA_FLASH_ATTENTION must be enabled to use a quantized OLLAMA_KV_CACHE_TYPE",
          "OLLAMA_KV_CACHE_TYPE",
          f"{_KV_GONE}: flash attention must be switched on (true), auto is not enough "
          "(its log)"),
    # v0.5.4 also logs the second one with type="" when no type was asked for: not a refusal
    _line(r'(?:unsupported OLLAMA_KV_CACHE_TYPE|kv cache type not supported by model)"? '
          r'type="?[^"\s]', "OLLAMA_KV_CACHE_TYPE",
          f"{_KV_GONE}: this model or version does not support that type (its log)"),
    # llama.cpp under Ollama >= 0.30 refuses the load instead (ollama#15043)
    _line(r"quantized V cache was requested, but this requires Flash Attention",
          "OLLAMA_KV_CACHE_TYPE",
          "llama-server refused to load the model: a quantized V cache needs flash "
          "attention, which was off (its log)"),
)


def ignored_by_log(log_text: str) -> dict[str, str]:
    """Variables the server's log says it read and then ignored, since its last start."""
    last_start = log_text.rfind("server config")
    tail = log_text[last_start:] if last_start >= 0 else log_text
    out: dict[str, str] = {}
    for pattern, env, why in _IGNORED_LOG_LINES:
        if env not in out and pattern.search(tail):
            out[env] = why
    return out
