"""What the last model load in an Ollama log ran with, in every log format from 0.5.4 to 0.33.

Three eras, each read from Ollama's own format strings (fixtures: tests/backends/ollama/logs/):
- up to 0.11.4 (llm/server.go): `msg="starting llama server" cmd="... runner --model M --ctx-size
  N --batch-size B ... [--flash-attn] [--kv-cache-type T] ... --parallel P --port X"`;
- 0.11.5 to 0.24 (llm/server.go, runner/*/runner.go): `msg="starting runner" cmd="... runner
  [--ollama-engine] --model M --port X"`, then per load step `msg=load request="{Operation:commit
  ... Parallel:P BatchSize:B FlashAttention:Enabled KvSize:N KvCacheType:T ...}"`;
- 0.30 on (llm/llama_server.go): `msg="starting llama-server" cmd="... -c N -np P ...
  [--cache-type-k T --cache-type-v T] --flash-attn on|off|auto [-b B -ub B] ..."`.
Every era's runner is llama.cpp, whose own lines follow: `flash_attn = ...`, `Flash Attention was
auto, set to enabled` (or `... Flash Attention enabled` in newer builds), the KV cache's size with
its K and V types, and `<func>: <device> model|KV|compute|output|RS buffer size = X MiB`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_START = re.compile(r'msg="starting (?:llama server|runner|llama-server)" '
                    r'cmd="((?:[^"\\]|\\.)*)"')
_LOAD_REQUEST = re.compile(r'msg=load request="\{([^"]*)\}"')
_FA_RESOLVED = re.compile(r"(?m)Flash Attention (?:was \w+, set to )?(enabled|disabled)\s*$")
_FA_FORCED = re.compile(r"enabling flash_attn since it is required for quantized V cache")
_FA_PARAM = re.compile(r"(?m)^\w+: flash_attn\s*=\s*(\w+)\s*$")
_ARCH = re.compile(r"general\.architecture\s+str\s+=\s+(\S+)")  # llama.cpp's model loader
_KV_TYPES = re.compile(r"K \((\w+)\):\s*[\d.]+ MiB, V \((\w+)\):")
_KV_TYPES_OLD = re.compile(r"type_k = '(\w+)', type_v = '(\w+)'")  # 0.9.x's llama.cpp
# Ollama's own parser of these lines (llm/llama_server.go bufferSizeRegex, v0.30 on).
_BUFFER = re.compile(r"(?m)^(\w+):\s+(\S+)\s+(model|KV|compute|output|RS)\s+buffer size"
                     r"\s*=\s*([\d.]+)\s*MiB")
# The Ollama engine's own summary (0.11.5-0.24, ml/device.go BackendMemory.Log), sizes by
# format.HumanBytes2: `msg="kv cache" device=CUDA0 size="1.0 GiB"`.
_ENGINE_MEMORY = re.compile(r'msg="(model weights|kv cache|compute graph)" device=(\S+) '
                            r'size="?([\d.]+) (B|KiB|MiB|GiB|TiB)"?')
_ENGINE_KINDS = {"model weights": "model", "kv cache": "KV", "compute graph": "compute"}
_MIB = {"B": 2.0**-20, "KiB": 2.0**-10, "MiB": 1.0, "GiB": 1024.0, "TiB": 1024.0**2}
_FLAG_NAMES = {"--ctx-size": "context", "-c": "context", "--parallel": "parallel",
               "-np": "parallel", "--batch-size": "batch", "-b": "batch", "-ub": "ubatch",
               "--kv-cache-type": "kv", "--cache-type-k": "kv_k", "--cache-type-v": "kv_v",
               "--flash-attn": "flash_attention"}
_ON = {"on": "on", "true": "on", "enabled": "on", "1": "on", "off": "off", "false": "off",
       "disabled": "off", "0": "off", "auto": "auto"}


@dataclass(frozen=True)
class Buffer:
    component: str  # the llama.cpp function that printed it: load_tensors, llama_kv_cache, ...
    device: str  # CPU, CPU_Mapped, CUDA0, CUDA_Host, MTL0_Mapped, ...
    kind: str  # model | KV | compute | output | RS
    mib: float


@dataclass(frozen=True)
class RunnerLoad:
    """The last model load since the server's last start, as its log tells it."""

    era: str  # which format: "llama server" (<= 0.11.4), "runner" (0.11.5-0.24), "llama-server"
    parallel: int | None = None  # slots
    context: int | None = None  # tokens over all slots (num_ctx x slots)
    batch: int | None = None
    ubatch: int | None = None
    flash_attention: str | None = None  # what Ollama asked for: on | off | auto
    flash_attention_used: bool | None = None  # what llama.cpp then did
    kv_types: tuple[str, str] | None = None  # (K, V) as llama.cpp allocated them
    buffers: tuple[Buffer, ...] = ()
    # Ollama cut num_ctx to the model's training context (0.9 on: "requested context size too
    # large for model", llm/server.go)
    context_capped: bool = False
    architecture: str | None = None  # from llama.cpp's loader lines, where printed

    @property
    def context_per_slot(self) -> int | None:
        if self.context is None or not self.parallel:
            return None
        return self.context // self.parallel

    def as_dict(self) -> dict[str, object]:
        """verify's JSON: what the server really ran the model with."""
        return {"era": self.era, "parallel": self.parallel, "context": self.context,
                "batch": self.batch, "ubatch": self.ubatch,
                "flash_attention": self.flash_attention,
                "flash_attention_used": self.flash_attention_used,
                "kv_types": None if self.kv_types is None else list(self.kv_types),
                "context_capped": self.context_capped, "architecture": self.architecture,
                "buffers_mib": [{"component": b.component, "device": b.device, "kind": b.kind,
                                 "mib": b.mib} for b in self.buffers]}


def _since_last_start(log_text: str) -> str:
    start = log_text.rfind("server config")
    return log_text[max(start, 0):]


def _command_flags(cmd: str) -> dict[str, str]:
    out: dict[str, str] = {}
    words = cmd.split()
    for i, word in enumerate(words):
        name = _FLAG_NAMES.get(word)
        if name is None:
            continue
        following = words[i + 1] if i + 1 < len(words) else ""
        if name == "flash_attention" and (not following or following.startswith("-")):
            following = "on"  # up to 0.11.4 a bare switch
        out[name] = following
    return out


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _load_request_field(body: str, name: str) -> str | None:
    m = re.search(rf"(?:^|\s){name}:(\S*)", body)
    return m.group(1) if m else None


def _flash_attention_used(segment: str) -> bool | None:
    resolved = [(m.start(), m.group(1) == "enabled") for m in _FA_RESOLVED.finditer(segment)]
    resolved += [(m.start(), True) for m in _FA_FORCED.finditer(segment)]
    if resolved:
        return max(resolved)[1]
    params = [_ON.get(v.lower()) for v in _FA_PARAM.findall(segment)]
    decided = [p for p in params if p in ("on", "off")]
    return decided[-1] == "on" if decided else None


def _kv_types(segment: str) -> tuple[str, str] | None:
    found = [(m.start(), (m.group(1), m.group(2))) for pattern in (_KV_TYPES, _KV_TYPES_OLD)
             for m in pattern.finditer(segment)]
    return max(found)[1] if found else None


def _buffers(segment: str) -> tuple[Buffer, ...]:
    last: dict[tuple[str, str, str], Buffer] = {}  # fit probes print sizes first: keep the last
    found = [(m.start(), Buffer(m.group(1), m.group(2), m.group(3), float(m.group(4))))
             for m in _BUFFER.finditer(segment)]
    found += [(m.start(), Buffer("ollama", m.group(2), _ENGINE_KINDS[m.group(1)],
                                 round(float(m.group(3)) * _MIB[m.group(4)], 2)))
              for m in _ENGINE_MEMORY.finditer(segment)]
    for _, b in sorted(found, key=lambda pair: pair[0]):
        key = (b.component, b.device, b.kind)
        last.pop(key, None)
        last[key] = b
    return tuple(last.values())


def last_load(log_text: str) -> RunnerLoad | None:
    """The last model load since the server's last start (None: no model was loaded)."""
    text = _since_last_start(log_text)
    starts = list(_START.finditer(text))
    if not starts:
        return None
    start = starts[-1]
    segment = text[start.start():]
    since_previous = text[starts[-2].end() if len(starts) > 1 else 0:]
    flags = _command_flags(start.group(1))
    parallel, context = _int(flags.get("parallel")), _int(flags.get("context"))
    batch, ubatch = _int(flags.get("batch")), _int(flags.get("ubatch"))
    fa = _ON.get(flags.get("flash_attention", "").lower())
    fa_used, kv = _flash_attention_used(segment), _kv_types(segment)
    requests = _LOAD_REQUEST.findall(segment)
    if requests:  # 0.11.5-0.24: the command line says nothing, the last load request says it
        body = requests[-1]
        parallel = _int(_load_request_field(body, "Parallel"))
        context = _int(_load_request_field(body, "KvSize"))
        batch = _int(_load_request_field(body, "BatchSize"))
        fa = _ON.get((_load_request_field(body, "FlashAttention") or "").lower())
        # the Ollama engine prints no llama.cpp lines: what it was told is what it does
        if fa_used is None and fa in ("on", "off"):
            fa_used = fa == "on"
        if kv is None:
            kv_type = _load_request_field(body, "KvCacheType") or "f16"
            kv = (kv_type, kv_type)
    era = start.group(0)[len('msg="starting '):].split('"', 1)[0]
    if era == "llama server" and fa is None:
        fa = "off"  # up to 0.11.4 the runner gets --flash-attn only to switch it on
    return RunnerLoad(era=era,
                      parallel=parallel, context=context, batch=batch, ubatch=ubatch,
                      flash_attention=fa, flash_attention_used=fa_used, kv_types=kv,
                      buffers=_buffers(segment),
                      context_capped="requested context size too large for model" in since_previous,
                      architecture=(_ARCH.findall(since_previous) or [None])[-1])
