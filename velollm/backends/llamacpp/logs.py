"""What llama-server's log says about the run it started: the facts no endpoint reports.

Measured on build 11669 (tests/data/llamacpp/*.log, captured by tests/realrt/capture_llama_logs.sh):
- at the default verbosity (3) the log has only `load_model: initializing, n_slots = N,
  n_ctx_slot = C, kv_unified = '...'`; everything else below needs `-lv 4`
  (LLAMA_ARG_LOG_VERBOSITY=4): `llama_context: flash_attn = enabled|disabled|auto`, `n_ctx`;
- an `auto` flash attention is decided later: `resolve_fused_ops: Flash Attention enabled` (older
  builds: `Flash Attention was auto, set to enabled`), or forced by a quantized V cache:
  `enabling flash_attn since it is required for quantized V cache`;
- `llama_kv_cache: size = 23.91 MiB (1024 cells, 30 layers, 2/2 seqs), K (q8_0): 11.95 MiB, V ...`;
- `<device> model|KV|compute|output|RS buffer size = X MiB`;
- fit: `projected to use X MiB of host memory vs. Y MiB ...`, `context size reduced from A to B`,
  `failed to fit params ...` / `successfully fit params ...`;
- `-np` auto: `n_parallel is set to auto, using n_parallel = 4 and kv_unified = true`.
Every fact is taken from the last start in the file (a log appended to across restarts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from velollm.errors import VelollmError

_START = re.compile(r"llama_server: initializing|^build: \d+", re.MULTILINE)
_SLOTS = re.compile(r"load_model: initializing, n_slots = (\d+), n_ctx_slot = (\d+)"
                    r"(?:, kv_unified = '(\w+)')?")
_FA_SET = re.compile(r"llama_context: flash_attn\s*=\s*(\w+)")
_FA_AUTO = re.compile(r"Flash Attention (?:was auto, set to )?(enabled|disabled)")
_FA_FORCED = re.compile(r"enabling flash_attn since it is required for quantized V cache")
_N_CTX = re.compile(r"llama_context: n_ctx\s*=\s*(\d+)")
_KV = re.compile(r"llama_kv_cache: size =\s*([\d.]+) MiB \(\s*(\d+) cells,\s*(\d+) layers.*?"
                 r"K \((\w+)\):\s*([\d.]+) MiB, V \((\w+)\):\s*([\d.]+) MiB")
_BUFFER = re.compile(r"\s(\S+)\s+(model|KV|compute|output|RS) buffer size\s*=\s*([\d.]+) MiB")
_PROJECTED = re.compile(r"projected to use (\d+) MiB of (\w+) memory vs\. (\d+) MiB")
_REDUCED = re.compile(r"context size reduced from (\d+) to (\d+)")
_FIT_RESULT = re.compile(r"(successfully fit params|failed to fit params[^\n]*)")
_PARALLEL_AUTO = re.compile(r"n_parallel is set to auto, using n_parallel = (\d+)")
_THREADS = re.compile(r"system_info: n_threads = (\d+) \(n_threads_batch = (\d+)\)")
_THREADPOOL = re.compile(r"threadpool init, n_threads = (\d+)")
_N_BATCH = re.compile(r"llama_context: n_batch\s*=\s*(\d+)")
_N_UBATCH = re.compile(r"llama_context: n_ubatch\s*=\s*(\d+)")
_FIT_RAN = re.compile(r"fitting params to (?:device|free) memory")
_LISTENING = re.compile(r"listening on (https?://\S+)")
_ERROR = re.compile(r"^\S+ E (?!.*failed to fit)(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Buffer:
    device: str  # CPU, CPU_Mapped, CUDA0, ...
    kind: str  # model | KV | compute | output | RS
    mib: float


@dataclass(frozen=True)
class LogFacts:
    """None: the log does not say (a default-verbosity log says only the slots)."""

    n_slots: int | None = None
    n_ctx_slot: int | None = None
    kv_unified: bool | None = None
    n_ctx: int | None = None
    flash_attn: str | None = None  # enabled | disabled, as decided; "auto" when still undecided
    type_k: str | None = None
    type_v: str | None = None
    kv_mib: float | None = None
    buffers: tuple[Buffer, ...] = ()
    projected_mib: int | None = None
    fit_context_from: int | None = None  # fit reduced the context from ... to ...
    fit_context_to: int | None = None
    fit_result: str | None = None
    parallel_auto: int | None = None
    n_threads: int | None = None
    n_threads_batch: int | None = None
    n_batch: int | None = None
    n_ubatch: int | None = None
    fit_ran: bool | None = None  # None: a default-verbosity log cannot tell
    listening: str | None = None  # the URL it says it listens on
    errors: tuple[str, ...] = field(default_factory=tuple)
    verbose: bool = False  # the log has the -lv 4 lines

    def as_dict(self) -> dict[str, object]:
        return {"n_slots": self.n_slots, "n_ctx_slot": self.n_ctx_slot,
                "kv_unified": self.kv_unified, "n_ctx": self.n_ctx,
                "flash_attn": self.flash_attn, "type_k": self.type_k, "type_v": self.type_v,
                "kv_mib": self.kv_mib,
                "buffers": [{"device": b.device, "kind": b.kind, "mib": b.mib}
                            for b in self.buffers],
                "projected_mib": self.projected_mib, "fit_context_from": self.fit_context_from,
                "fit_context_to": self.fit_context_to, "fit_result": self.fit_result,
                "parallel_auto": self.parallel_auto, "n_threads": self.n_threads,
                "n_threads_batch": self.n_threads_batch, "n_batch": self.n_batch,
                "n_ubatch": self.n_ubatch, "fit_ran": self.fit_ran, "listening": self.listening, "errors": list(self.errors),
                "verbose": self.verbose}


def read_log(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise VelollmError(f"cannot read the llama-server log {path}: {exc.strerror}",
                           path=str(path),
                           hint="pass the file llama-server writes its output to (--log-file)"
                           ) from None


def last_run(text: str) -> str:
    """The part of the log written since the server's last start."""
    starts = list(_START.finditer(text))
    return text[starts[-1].start():] if starts else text


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - the last one is wanted
        pass
    return found


def _int(m: re.Match[str] | None, group: int = 1) -> int | None:
    return None if m is None else int(m.group(group))


def _flash_attn(text: str) -> str | None:
    """The decision, not the request: `auto` is resolved by a later line."""
    setting = _last(_FA_SET, text)
    decided = _last(_FA_AUTO, text)
    if decided is not None and (setting is None or decided.start() > setting.start()):
        return decided.group(1)
    if setting is not None:
        return setting.group(1)
    return "enabled" if _FA_FORCED.search(text) else None


def parse(text: str) -> LogFacts:
    run = last_run(text)
    slots = _last(_SLOTS, run)
    kv = _last(_KV, run)
    projected = _last(_PROJECTED, run)
    reduced = _last(_REDUCED, run)
    fit = _last(_FIT_RESULT, run)
    unified = None if slots is None or slots.group(3) is None else slots.group(3) == "true"
    threads = _last(_THREADS, run)
    verbose = _FA_SET.search(run) is not None or threads is not None
    return LogFacts(
        n_slots=_int(slots), n_ctx_slot=_int(slots, 2), kv_unified=unified,
        n_ctx=_int(_last(_N_CTX, run)), flash_attn=_flash_attn(run),
        type_k=None if kv is None else kv.group(4), type_v=None if kv is None else kv.group(6),
        kv_mib=None if kv is None else float(kv.group(1)),
        buffers=tuple(Buffer(m.group(1), m.group(2), float(m.group(3)))
                      for m in _BUFFER.finditer(run)),
        projected_mib=_int(projected), fit_context_from=_int(reduced),
        fit_context_to=_int(reduced, 2), fit_result=None if fit is None else fit.group(1),
        parallel_auto=_int(_last(_PARALLEL_AUTO, run)),
        n_threads=_int(threads) if threads else _int(_last(_THREADPOOL, run)),
        n_threads_batch=_int(threads, 2), n_batch=_int(_last(_N_BATCH, run)),
        n_ubatch=_int(_last(_N_UBATCH, run)),
        fit_ran=(_FIT_RAN.search(run) is not None) if verbose else None,
        listening=None if (lm := _last(_LISTENING, run)) is None else lm.group(1),
        errors=tuple(dict.fromkeys(m.group(1).strip() for m in _ERROR.finditer(run))),
        verbose=verbose)
