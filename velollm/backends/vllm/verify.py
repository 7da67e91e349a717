"""Did vLLM start with what velollm wrote? Evidence, best first: the server process's own command
line and VLLM_* environment (matched by port), then what the server reports it made of them:
/v1/models (max_model_len) and /metrics (`vllm:cache_config_info`: block size, cache dtype,
gpu_memory_utilization, the number of KV blocks; requests running; KV cache usage).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from velollm.backends.base import Verification
from velollm.backends.vllm import knobs
from velollm.backends.vllm.client import Sample, VllmClient
from velollm.backends.vllm.current import find_server_processes, match_server, running_settings
from velollm.backends.wire import ServerClient
from velollm.core.effect import Evidence, check_effects, check_removed
from velollm.errors import VelollmError
from velollm.io.processes import managed_files_ages, process_age_s, restarted_since
from velollm.io.state import State

# cache_config_info labels -> the setting names velollm writes
CACHE_LABELS = {"block_size": "--block-size", "cache_dtype": "--kv-cache-dtype",
                "gpu_memory_utilization": "--gpu-memory-utilization",
                "enable_prefix_caching": "--enable-prefix-caching",
                "kv_cache_memory_bytes": "--kv-cache-memory-bytes"}


def reported(models: list[dict[str, Any]], samples: list[Sample]) -> dict[str, str]:
    """What the server says it runs with, named as velollm writes settings."""
    out: dict[str, str] = {}
    lengths = {m.get("max_model_len") for m in models if isinstance(m.get("max_model_len"), int)}
    if len(lengths) == 1:
        out["--max-model-len"] = str(lengths.pop())
    info = next((s.labels for s in samples if s.name == "vllm:cache_config_info"), {})
    for label, name in CACHE_LABELS.items():
        value = info.get(label)
        if value not in (None, "None"):
            out[name] = "true" if value == "True" else "false" if value == "False" else value
    return out


def server_facts(samples: list[Sample]) -> dict[str, object]:
    """The gauges verify reports: KV blocks, requests running and waiting, KV cache usage."""
    def gauge(name: str) -> float | None:
        values = [s.value for s in samples if s.name == name]
        return sum(values) if values else None

    info = next((s.labels for s in samples if s.name == "vllm:cache_config_info"), {})
    blocks = info.get("num_gpu_blocks")
    tokens = info.get("kv_cache_size_tokens")
    concurrency = info.get("kv_cache_max_concurrency")
    return {"num_gpu_blocks": int(blocks) if blocks and blocks.isdigit() else None,
            "kv_cache_size_tokens": int(tokens) if tokens and tokens.isdigit() else None,
            "max_concurrency": _float(concurrency),
            "num_requests_running": gauge("vllm:num_requests_running"),
            "num_requests_waiting": gauge("vllm:num_requests_waiting"),
            "kv_cache_usage_perc": gauge("vllm:kv_cache_usage_perc")}


def _canonical(settings: Mapping[str, str]) -> dict[str, str]:
    return {k: knobs.canonical(k, v) for k, v in settings.items()}


def _float(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def verify(state: State, wanted: Mapping[str, str], target: str, client: ServerClient,
           version: str | None, *, log_path: Path | None,
           retired: Collection[str] = ()) -> Verification:
    from velollm.backends.vllm.install import managed_by

    notes: list[str] = []
    process = match_server(find_server_processes(), client.base_url)
    running = None if process is None else running_settings(process)
    if process is None:
        notes.append(f"no vLLM process started with the port of {client.base_url} is visible "
                     "here: only what the server reports is checked")
    models: list[dict[str, Any]] = []
    samples: list[Sample] = []
    if isinstance(client, VllmClient):
        try:
            models, samples = client.models(), client.metrics()
        except VelollmError as exc:
            notes.append(f"the server did not answer /v1/models or /metrics: {exc}")
    said = _canonical(reported(models, samples))
    wanted = _canonical(wanted)
    running = None if running is None else _canonical(running)
    age = None if process is None else process_age_s(process.pid)
    restarted = restarted_since(age, managed_files_ages(state, target, time.time()))
    evidence = Evidence(process_env=running, log_config=said or None,
                        server_managed_by=managed_by(), target_kind=target,
                        restarted_since_apply=restarted)
    caps = knobs.capabilities(version)

    def version_reads(name: str) -> str | None:
        key = knobs.NAME_KEY.get(name)
        return None if key is None or caps.reads(key) else caps.why_not_read(key)

    effects = [*check_effects(wanted, evidence, version_reads=version_reads),
               *check_removed(retired, evidence)]
    server: dict[str, object] = {
        "pid": None if process is None else process.pid, "managed_by": managed_by(),
        "restarted_since_apply": restarted, "log": None if log_path is None else str(log_path),
        **server_facts(samples)}
    # vLLM serves its model for as long as it runs: nothing expires
    loaded = tuple({"name": m.get("id"), "expires_at": None,
                    "context_length": m.get("max_model_len")} for m in models)
    return Verification(tuple(effects), server, loaded, tuple(notes))
