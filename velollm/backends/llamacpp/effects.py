"""Is each LLAMA_ARG_* setting in force on the running llama-server? The judgement, without I/O.

Two kinds of evidence (gathered by verify.py):
- what the process was started with: its command line and environment, argv winning (current.py);
- what the server does: /props and /slots (context per slot, slots, model, endpoints) and, for the
  values only the log shows, its start-up log (flash attention as decided, KV cache types, batch
  sizes, threads, fit; logs.py).
A value the process has but the server contradicts is not effective (e.g. `-fa on` on a device
without flash attention); a value the process lacks is not effective, with the reason it lacks it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from velollm.backends.base import Observed
from velollm.backends.llamacpp.logs import LogFacts
from velollm.core.effect import Effect

_TRUE = frozenset({"on", "enabled", "true", "1"})  # llama.cpp's is_truthy / is_falsey
_FALSE = frozenset({"off", "disabled", "false", "0"})
_BOOLS = frozenset({"LLAMA_ARG_ENDPOINT_METRICS", "LLAMA_ARG_ENDPOINT_SLOTS", "LLAMA_ARG_FIT",
                    "LLAMA_ARG_CONT_BATCHING", "LLAMA_ARG_KV_UNIFIED", "LLAMA_ARG_MMAP",
                    "LLAMA_ARG_MLOCK", "LLAMA_ARG_NO_MMAP", "LLAMA_ARG_NO_KV_OFFLOAD"})
_PATHS = frozenset({"LLAMA_ARG_MODEL", "LLAMA_ARG_MODEL_DRAFT"})
LOG_ONLY = frozenset({"LLAMA_ARG_FLASH_ATTN", "LLAMA_ARG_CACHE_TYPE_K", "LLAMA_ARG_CACHE_TYPE_V",
                      "LLAMA_ARG_BATCH", "LLAMA_ARG_UBATCH", "LLAMA_ARG_THREADS_BATCH",
                      "LLAMA_ARG_FIT"})


@dataclass(frozen=True)
class Evidence:
    settings: Mapping[str, Observed] | None  # None: no llama-server process readable here
    pid: int | None
    props: Mapping[str, object] | None  # None: the server did not answer
    log: LogFacts | None  # None: no (usable) log
    metrics_enabled: bool | None
    base_port: int | None
    target_kind: str
    managed_by: str  # systemd | systemd-user | none
    unit: str | None
    restarted_since_apply: bool | None
    files: tuple[str, ...] = field(default_factory=tuple)  # velollm's files, for the advice


def canonical(env: str, value: str) -> str:
    v = value.strip()
    low = v.lower()
    # a switch's variable and flash attention's on/off read as llama.cpp reads them; 1 and 0
    # fold too, on both sides alike, so a number compares the same
    if low in _TRUE or low in _FALSE:
        return "true" if low in _TRUE else "false"
    if env in _BOOLS:
        return low
    if env in _PATHS:
        return os.path.realpath(os.path.expanduser(v))
    try:
        return str(int(v))
    except ValueError:
        return low


def same(env: str, a: str, b: str) -> bool:
    return canonical(env, a) == canonical(env, b)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def served(env: str, wanted: str, ev: Evidence) -> tuple[str, str] | None:
    """(what the server does, where that was seen), for the settings it shows; None: it does
    not show this one (or the wanted value is `auto`, which the server resolves itself)."""
    props, log = ev.props or {}, ev.log
    gen = props.get("default_generation_settings")
    per_slot = _int(gen.get("n_ctx")) if isinstance(gen, dict) else None
    slots = _int(props.get("total_slots"))
    want = wanted.strip().lower()
    if want in ("-1", "auto"):
        return None
    if env == "LLAMA_ARG_CTX_SIZE" and per_slot is not None and slots and want != "0":
        unified = log.kv_unified if log is not None else None
        total = per_slot if unified else per_slot * slots
        if unified is None and str(per_slot) == want:
            total = per_slot  # one cache shared by every slot: each may fill all of it
        return str(total), f"/props: {slots} slot(s) of {per_slot} tokens"
    if env == "LLAMA_ARG_N_PARALLEL" and slots is not None:
        return str(slots), "/props total_slots"
    if env == "LLAMA_ARG_MODEL" and isinstance(props.get("model_path"), str):
        return str(props["model_path"]), "/props model_path"
    if env == "LLAMA_ARG_ENDPOINT_METRICS" and ev.metrics_enabled is not None:
        return str(ev.metrics_enabled).lower(), "/metrics"
    if env == "LLAMA_ARG_ENDPOINT_SLOTS" and isinstance(props.get("endpoint_slots"), bool):
        return str(props["endpoint_slots"]).lower(), "/props endpoint_slots"
    if env == "LLAMA_ARG_PORT" and ev.base_port is not None and ev.props is not None:
        return str(ev.base_port), "the port it answers on"
    return None if log is None else _logged(env, want, log)


def _logged(env: str, want: str, log: LogFacts) -> tuple[str, str] | None:
    value: object = None
    if env == "LLAMA_ARG_FLASH_ATTN" and log.flash_attn in ("enabled", "disabled"):
        return ("on" if log.flash_attn == "enabled" else "off"), "its log"
    if env == "LLAMA_ARG_CACHE_TYPE_K":
        value = log.type_k
    elif env == "LLAMA_ARG_CACHE_TYPE_V":
        value = log.type_v
    elif env == "LLAMA_ARG_THREADS":
        value = log.n_threads
    elif env == "LLAMA_ARG_THREADS_BATCH":
        value = log.n_threads_batch
    elif env == "LLAMA_ARG_BATCH" and log.n_batch is not None:
        # llama.cpp caps the logical batch at the context: -b 2048 -c 1024 runs n_batch 1024
        capped = log.n_ctx is not None and log.n_batch == log.n_ctx and want.isdigit() \
            and int(want) > log.n_ctx
        value = want if capped else log.n_batch
    elif env == "LLAMA_ARG_UBATCH" and log.n_ubatch is not None:
        capped = log.n_batch is not None and log.n_ubatch == log.n_batch and want.isdigit() \
            and int(want) > log.n_batch
        value = want if capped else log.n_ubatch
    elif env == "LLAMA_ARG_FIT" and log.fit_ran is not None:
        value = "true" if log.fit_ran else "false"
    return None if value is None else (str(value), "its log")


def check(env: str, wanted: str, ev: Evidence) -> Effect:
    observed = None if ev.settings is None else ev.settings.get(env)
    fact = served(env, wanted, ev)
    if ev.settings is None:
        if fact is None:
            why = ("no llama-server process velollm can read serves this address, and the server "
                   "does not show this setting" + (": pass its log with --log FILE"
                                                   if env in LOG_ONLY and ev.log is None else ""))
            return Effect(env, wanted, None, "unknown", why)
        ok = same(env, wanted, fact[0])
        return Effect(env, wanted, fact[0], "effective" if ok else "not effective",
                      f"the server runs with it ({fact[1]})" if ok
                      else f"the server runs with {fact[0]} ({fact[1]})")
    if observed is None or not same(env, wanted, observed.value):
        runs = "" if fact is None else f" (it runs with {fact[0]}: {fact[1]})"
        shown = observed.value if observed is not None else None if fact is None else fact[0]
        return Effect(env, wanted, shown, "not effective", _why_not(env, observed, ev) + runs)
    if fact is not None and not same(env, wanted, fact[0]):
        return Effect(env, wanted, fact[0], "not effective",
                      f"the server was started with {env}={observed.value} but runs with "
                      f"{fact[0]} ({fact[1]})")
    where = "command line" if observed.source.endswith("command line") else "environment"
    seen = f"; confirmed by {fact[1]}" if fact is not None else (
        "; only its log (-lv 4) would show what it did with it"
        if env in LOG_ONLY else "")
    return Effect(env, wanted, observed.value, "effective",
                  f"the running server has this value ({where}){seen}")


def _restart(ev: Evidence) -> str:
    if ev.managed_by == "systemd":
        return f"sudo systemctl restart {ev.unit or 'llama-server'}"
    if ev.managed_by == "systemd-user":
        return f"systemctl --user restart {ev.unit or 'llama-server'}"
    file = f" ({', '.join(ev.files)})" if ev.files else ""
    return f"restart llama-server from a shell that sources velollm's file{file}"


def _why_not(env: str, observed: Observed | None, ev: Evidence) -> str:
    if observed is not None and observed.source.endswith("command line"):
        return (f"llama-server's command line sets it to {observed.value}, and a flag wins "
                f"over {env} from the environment: drop the flag from the command that starts it")
    if ev.target_kind in ("shell", "fish") and ev.managed_by in ("systemd", "systemd-user"):
        return (f"{env} is set in a {ev.target_kind} file, which the systemd unit "
                f"{ev.unit or ''} never reads: use the systemd target").replace("  ", " ")
    if ev.restarted_since_apply is False:
        return f"the server was started before velollm wrote the setting: {_restart(ev)}"
    if observed is not None:
        return (f"the server was started with {env}={observed.value}, not from velollm's file "
                f"(a shell that read an earlier version, or another definition): {_restart(ev)}")
    return f"the running server was not started with it: {_restart(ev)}"


def check_retired(names: Mapping[str, Observed] | None, retired: list[str]) -> list[Effect]:
    """Settings velollm set before and no longer wants that the server still has from its
    environment (a command-line flag was never velollm's)."""
    if names is None:
        return []
    out = []
    for env in sorted(retired):
        o = names.get(env)
        if o is not None and o.source.endswith("environment"):
            out.append(Effect(env, None, o.value, "not effective",
                              f"velollm.yaml no longer sets {env}, but the running server has it "
                              "(started before the file changed, or set elsewhere): restart it "
                              "from a shell that sources the file"))
    return out
