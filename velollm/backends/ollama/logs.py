"""What an Ollama server's log says: the variables it read, those it ignored, its runner's slots.

Ollama prints one `server config env="map[...]"` line at start-up (ollama-facts.md §1.1) listing every
variable that version read, with the value it parsed (durations Go-formatted: 30m -> 30m0s), and,
up to v0.11.4, `starting llama server ... --parallel N` on each model load.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from velollm.backends.ollama import knobs
from velollm.core import gotypes

_SERVER_CONFIG = re.compile(r'server config"? env="map\[(?P<body>.*)\]"')
_KEY = re.compile(r"(?:^|\s)(OLLAMA_[A-Z0-9_]+|HTTPS?_PROXY|NO_PROXY|CUDA_VISIBLE_DEVICES|"
                  r"GPU_DEVICE_ORDINAL|HIP_VISIBLE_DEVICES|ROCR_VISIBLE_DEVICES):")



_RUNNER = re.compile(r"starting llama server\"? cmd=.*?--parallel (\d+)")


def _same_duration(wanted: str, logged: str) -> bool:
    w, lg = knobs.duration_seconds(wanted), knobs.duration_seconds(logged)
    if w is None or lg is None:
        return False
    if w < 0:  # Ollama turns a negative keep-alive into its largest duration: "forever"
        return lg >= gotypes.MAX_DURATION_S
    return abs(w - lg) < 1e-6


def normalize_log(log_config: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The log prints durations Go-formatted (30m -> 30m0s): where a logged duration equals the
    wanted one by value, use the wanted text so the effect check compares like with like."""
    out = dict(log_config)
    for env, value in wanted.items():
        knob = knobs.SERVER_KNOBS.get(knobs.ENV_TO_KEY.get(env, ""))
        logged = out.get(env)
        if knob is not None and knob.type == "duration" and logged is not None \
                and _same_duration(value, logged):
            out[env] = value
    return out


def runner_parallel(log_text: str) -> int | None:
    """Slots of the last runner started since the server's last start (0.5.4 logs `--parallel`)."""
    start = log_text.rfind("server config")
    matches = _RUNNER.findall(log_text[max(start, 0):])
    return int(matches[-1]) if matches else None


# Only the last server start matters; a log of weeks can be gigabytes (or --log /dev/zero).
MAX_LOG_BYTES = 16 * 1024 * 1024


def read_log(path: Path) -> str:
    from velollm.io.inputfile import read_tail

    raw = read_tail(path, max_bytes=MAX_LOG_BYTES, what="an Ollama log",
                    hint="pass the file `ollama serve` writes its output to")
    return raw.decode("utf-8", errors="replace")


def parse_server_config(log_text: str) -> dict[str, str] | None:
    """Values from the LAST `server config` line of an Ollama log (the current run)."""
    matches = list(_SERVER_CONFIG.finditer(log_text))
    if not matches:
        return None
    body = matches[-1].group("body")
    keys = list(_KEY.finditer(body))
    values: dict[str, str] = {}
    for i, m in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(body)
        values[m.group(1)] = body[m.end():end].strip()
    return values


# Log lines with which Ollama says it read a variable and then did not use it (realrt README).
_IGNORED_LOG_LINES = {
    "flash attention enabled but not supported by gpu": (
        "OLLAMA_FLASH_ATTENTION", ("the server read it but this device does not support flash "
        "attention (its log: 'flash attention enabled but not supported by gpu')")),
    "quantized kv cache requested but flash attention disabled": (
        "OLLAMA_KV_CACHE_TYPE", ("the server read it but ignores a quantized KV cache without "
        "flash attention (its log: 'quantized kv cache requested but flash attention disabled')")),
}


def ignored_by_log(log_text: str) -> dict[str, str]:
    """Variables the server's log says it read and then ignored, since its last start."""
    last_start = log_text.rfind("server config")
    tail = log_text[last_start:] if last_start >= 0 else log_text
    return {env: why for line, (env, why) in _IGNORED_LOG_LINES.items() if line in tail}
