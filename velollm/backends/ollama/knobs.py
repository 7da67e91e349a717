"""What Ollama really reads: version checks, defaults per version, capabilities and traps. The data
is in knobdata.py, the value checks (Ollama's own parsing rules) in knobvalues.py; facts from
shared/ollama-facts.md, versions checked against Ollama's history (issue 12).
"""

from __future__ import annotations

import re

from velollm.backends.ollama.host import is_loopback
from velollm.backends.ollama.knobdata import (
    CONTEXT_BY_VRAM_SINCE,
    LLAMA_SERVER_SINCE,
    MODEL_KNOBS,
    NO_FA_ARCHS,
    NO_FA_ARCHS_UNTIL,
    NOT_KNOBS,
    SERVER_KNOBS,
    SINGLE_SLOT_ARCHS,
    ModelKnob,
    ServerKnob,
)
from velollm.backends.ollama.knobvalues import (
    duration_seconds,
    env_value,
    param_value,
    value_problem,
)
from velollm.core.facts import Capabilities

__all__ = [
    "MODEL_KNOBS",
    "NOT_KNOBS",
    "SERVER_KNOBS",
    "ModelKnob",
    "ServerKnob",
    "capabilities",
    "default_at",
    "duration_seconds",
    "env_value",
    "model_default_at",
    "param_value",
    "parse_version",
    "reads",
    "trap_warnings",
    "value_problem",
    "why_not_read",
]

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")
NEWEST = (999, 0, 0)
# The variable's name -> the knob's key: OLLAMA_NUM_PARALLEL -> num_parallel.
ENV_TO_KEY = {k.env: k.key for k in SERVER_KNOBS.values()}


def parse_version(s: str) -> tuple[int, int, int]:
    """ "0.5.4-ipexllm-20250407" -> (0, 5, 4); "v0.33.0-rc2" -> (0, 33, 0)."""
    m = _VERSION.match(s.strip())
    if not m:
        raise ValueError(f"not an Ollama version: {s!r}")
    return (int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))


def _version(version: str | None) -> tuple[int, int, int]:
    return NEWEST if version is None else parse_version(version)


def reads(key: str, version: str | None) -> bool:
    """Does this Ollama version read the server knob? None = unknown version: assume the newest."""
    knob = SERVER_KNOBS.get(key)
    if knob is None:
        return False
    v = _version(version)
    if knob.introduced and v < parse_version(knob.introduced):
        return False
    return not (knob.removed and v >= parse_version(knob.removed))


def why_not_read(key: str, version: str | None) -> str:
    """A sentence saying why `version` ignores `key` ("" when it reads it)."""
    if key in NOT_KNOBS:
        return NOT_KNOBS[key]
    knob = SERVER_KNOBS.get(key)
    if knob is None:
        return f"{key} is not an Ollama server variable"
    if reads(key, version):
        return ""
    shown = version or "the newest"
    if knob.introduced and _version(version) < parse_version(knob.introduced):
        return f"{knob.env} is read from Ollama {knob.introduced} on; this is {shown}"
    gone = f"{knob.env} was removed in Ollama {knob.removed}; this is {shown}"
    return f"{gone} ({knob.gone_note})" if knob.gone_note else gone


def capabilities(version: str | None) -> Capabilities:
    """What this Ollama version reads and does, as the value the core plans with."""
    v = _version(version)
    not_read = {key: why_not_read(key, version) for key in SERVER_KNOBS if not reads(key, version)}
    return Capabilities(
        backend="ollama", title="Ollama", version=version, known=frozenset(SERVER_KNOBS),
        not_read={**not_read, **NOT_KNOBS},
        flash_attention_dropped=NO_FA_ARCHS if v < parse_version(NO_FA_ARCHS_UNTIL)
        else frozenset(),
        single_slot=SINGLE_SLOT_ARCHS,
        sizes_context_by_vram=v >= parse_version(CONTEXT_BY_VRAM_SINCE),
        flash_attention_on_cpu=v >= parse_version(LLAMA_SERVER_SINCE),
        picks_batch_size=v >= parse_version(LLAMA_SERVER_SINCE))


def _default_from(default: str | None, history: tuple[tuple[str, str], ...],
                  version: str | None) -> str | None:
    if not history:
        return default
    v = _version(version)
    current = history[0][1]
    for since, value in history:
        if v >= parse_version(since):
            current = value
    return current


def default_at(key: str, version: str | None) -> str | None:
    """The server knob's default on that version (from its history where it changed)."""
    knob = SERVER_KNOBS[key]
    return _default_from(knob.default, knob.default_history, version)


def model_default_at(key: str, version: str | None) -> str | None:
    """A model parameter's default on that version (None: unset, or not read there)."""
    knob = MODEL_KNOBS[key]
    if knob.introduced and _version(version) < parse_version(knob.introduced):
        return None
    return _default_from(knob.default, knob.default_history, version)


def trap_warnings(server: dict[str, object], version: str | None) -> list[str]:
    """Settings that look right but do not do what they say on this Ollama version."""
    out = [why_not_read(k, version) for k in server
           if k in SERVER_KNOBS and not reads(k, version)]
    out += _kv_cache_trap(server, version)
    if "context_length" not in server and _version(version) >= parse_version(CONTEXT_BY_VRAM_SINCE):
        out.append("context_length is unset: Ollama >= 0.15.5 picks 4096/32768/262144 tokens by "
                   "total VRAM, and 262144 can spill to CPU or fail to load (ollama#14073); "
                   "set it")
    if server.get("http_proxy") not in (None, ""):
        out.append("http_proxy: Ollama's FAQ says to use https_proxy and avoid HTTP_PROXY")
    cloud = server.get("cloud_base_url")
    if isinstance(cloud, str) and cloud and not is_loopback(cloud.strip()):
        # server/cloud_proxy.go resolveCloudProxyBaseURL: refused in gin's release mode
        out.append("cloud_base_url: release builds of Ollama accept only a loopback URL and "
                   "ignore this one (their log: 'ignoring cloud base URL override')")
    return out


def _kv_cache_trap(server: dict[str, object], version: str | None) -> list[str]:
    # §1.5: a quantized KV cache needs flash attention. Before 0.30 "auto" does not count as
    # enabled (the cache silently stays f16); from 0.30 llama.cpp errors when FA ends up off.
    kv = server.get("kv_cache_type")
    if not isinstance(kv, str) or kv.lower() not in ("q8_0", "q4_0"):
        return []
    fa = server.get("flash_attention")
    if fa is False or (fa is None and _version(version) < (0, 30, 0)):
        state = "off" if fa is False else "not set"
        return [(f"kv_cache_type {kv} needs flash_attention: true, but flash attention is "
                 f"{state}: the cache stays f16 (before Ollama 0.30) or the load fails (0.30 "
                 "and later)")]
    return []
