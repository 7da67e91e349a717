"""What `velollm dashboard` shows, gathered on each request of its page: Now (the server and its
loaded models, with the memory model's breakdown), Configuration (velollm.yaml / applied / the
server, as `velollm status` checks it) and Gains (the kept runs).

Each panel reports what it could not read (server down, damaged state, invalid velollm.yaml)
as data, so one broken source never blanks the page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velollm.app.dashboard_live import live_rate, slots_of
from velollm.errors import ServerResponseError, ServerUnreachableError, VelollmError

if TYPE_CHECKING:
    from velollm.backends.base import Backend
    from velollm.backends.wire import RunningModel
    from velollm.io.state import State

DEFAULT_NUM_CTX = 2048  # Ollama's default context when neither the server nor the model sets one
LAST_VERIFY = 5


@dataclass
class Dashboard:
    """The sources of one dashboard: --host, velollm.yaml, the state folder, the hardware."""

    host: str | None = None
    config: Path | None = None
    state_dir: Path | None = None
    hardware: dict[str, Any] | None = None
    _sizes: dict[tuple[str, int, int, str], dict[str, int]] = field(default_factory=dict)
    _counters: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    def _state(self) -> tuple[State, str | None]:
        from velollm.io.state import State, load_state

        try:
            return load_state(self.state_dir), None
        except VelollmError as exc:
            return State(), exc.message

    def _backend(self, state: State) -> Backend:
        from velollm.app.verification import applied_backend
        from velollm.backends import get_backend

        return get_backend(applied_backend(state) or self._wants()[1])

    def _wants(self) -> tuple[dict[str, Any], str | None]:
        """({path, server: {knob: value}, error}, backend name) of velollm.yaml."""
        from velollm.config import load_config

        path = self.config or Path(os.environ.get("VELOLLM_CONFIG") or "velollm.yaml")
        if self.config is None and not path.exists():
            return {"path": None, "server": {}, "error": None}, None
        try:
            config = load_config(path)
        except VelollmError as exc:
            return {"path": str(path), "server": {}, "error": exc.message}, None
        return {"path": str(path), "server": config.server, "error": None}, config.backend

    def now(self) -> dict[str, Any]:
        state, problem = self._state()
        backend = self._backend(state)
        url = backend.base_url(self.host)
        server: dict[str, Any] = {"backend": backend.title, "name": backend.name, "url": url,
                                  "up": False, "version": None, "error": None, "models": [],
                                  "slots": None, "slots_why": f"{backend.title} does not "
                                  "report its request slots"}
        try:
            client = backend.client(url)
        except NotImplementedError:  # a backend whose client is not there yet (llama.cpp)
            server["error"] = f"velollm cannot read a running {backend.title} server yet"
            return {"checked_at": _now(), "servers": [server], "state_error": problem,
                    "capacity": capacity(self.hardware),
                    "throughput": _last_throughput(self.state_dir), "throughput_why": ""}
        live = None
        try:
            server["version"] = client.version()
            loaded = client.ps()
            server["up"] = True
            slots, why = slots_of(client)
            server["slots"], server["slots_why"] = slots, why or server["slots_why"]
            live = live_rate(client, self._counters)
        except (ServerUnreachableError, ServerResponseError) as exc:
            server["error"] = exc.message
            loaded = []
        finally:
            client.close()
        env = _applied_env(state)
        server["models"] = [self._model(backend, client.base_url, m, env) for m in loaded]
        return {"checked_at": _now(), "servers": [server], "state_error": problem,
                "capacity": capacity(self.hardware), "live": live,
                "throughput": _last_throughput(self.state_dir),
                "throughput_why": "the last benchmark velollm kept" if live is not None or
                isinstance(server["slots"], str) else f"{backend.title} reports no live "
                "throughput: the figures are the last benchmark velollm kept"}

    def _model(self, backend: Backend, url: str, model: RunningModel,
               env: dict[str, str]) -> dict[str, Any]:
        ctx = model.context_length or _int(env.get("OLLAMA_CONTEXT_LENGTH")) or DEFAULT_NUM_CTX
        parallel = _int(env.get("OLLAMA_NUM_PARALLEL")) or 1
        kv = env.get("OLLAMA_KV_CACHE_TYPE") or "f16"
        return {"name": model.name, "size": model.size, "size_vram": model.size_vram,
                "size_cpu": max(model.size - model.size_vram, 0),
                "context_length": model.context_length, "expires_at": model.expires_at,
                "estimate": self._estimate(backend, url, model.name, ctx, parallel, kv),
                "assumed": {"num_ctx": ctx, "num_parallel": parallel, "kv_cache_type": kv}}

    def _estimate(self, backend: Backend, url: str, name: str, ctx: int, parallel: int,
                  kv: str) -> dict[str, int] | None:
        """The memory model's breakdown for the loaded model (cached: it asks the server)."""
        from velollm.core.memory import estimate

        key = (name, ctx, parallel, kv)
        if key not in self._sizes:
            try:
                facts = backend.model_facts([name], url)
            except VelollmError:  # gone between /api/ps and now: sized on the next poll
                return None
            info = next((i for i in facts.infos if i.name == name), None)
            if info is None:
                return None
            self._sizes[key] = estimate(info, ctx, parallel, kv).breakdown()
        return self._sizes[key]

    def configuration(self) -> dict[str, Any]:
        from velollm.cli.status import document

        state, problem = self._state()
        backend = self._backend(state)
        wants, _ = self._wants()
        try:
            status = document(state, backend, backend.base_url(self.host))
        except NotImplementedError:  # no client for this backend yet: what velollm applied
            status = {"status": "ok", "applied": bool(state.files), "files": [],
                      "settings": [], "msg": f"velollm cannot read a running {backend.title} "
                      "server yet", "hint": ""}
        rows = settings_rows(backend, wants["server"], _applied_env(state),
                             status.get("settings") or [])
        return {"checked_at": _now(), "state_error": problem, "wants": wants,
                "status": status, "rows": rows,
                "drift": any(r["drift"] for r in rows) or any(
                    f.get("drift") not in ("none", None) for f in status.get("files") or [])}

    def gains(self) -> dict[str, Any]:
        from velollm.io import runs
        from velollm.report.gains import before_after, timeline
        from velollm.report.runs import comparison

        named = [(k.path.name, k.record) for k in runs.stored(self.state_dir)]
        verify = comparison([n for n in named
                             if n[1].get("run_kind") == "verify"][-LAST_VERIFY:])
        return {"checked_at": _now(), "count": len(named), "timeline": timeline(named),
                "applies": before_after(named), "verify": verify["verify"],
                "verify_runs": verify["runs"]}


def settings_rows(backend: Backend, wanted: dict[str, Any], applied: dict[str, str],
                  checked: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per setting: velollm.yaml's value, what velollm applied, what the server has
    (status's check), and the drift between them, if any (none before the first apply)."""
    yaml = _yaml_values(backend, wanted)
    by_env = {str(r.get("env")): r for r in checked}
    rows = []
    for env in sorted(set(yaml) | set(applied) | set(by_env)):
        seen = by_env.get(env, {})
        drift = None
        if applied and env in yaml and yaml[env] != "auto" and yaml[env] != applied.get(env):
            drift = "velollm.yaml changed since the last apply: `velollm plan` shows it"
        elif seen.get("status") == "not effective":
            drift = f"the server does not have it: {seen.get('why') or 'see velollm verify'}"
        rows.append({"env": env, "yaml": yaml.get(env), "applied": applied.get(env),
                     "observed": seen.get("observed"), "status": seen.get("status"),
                     "why": seen.get("why"), "drift": drift})
    return rows


def _yaml_values(backend: Backend, wanted: dict[str, Any]) -> dict[str, str]:
    """velollm.yaml's server settings by the name velollm writes them under ("auto": the
    optimizer chooses); keys that are not settings (llama.cpp's binary, host, models) and
    options given only on the command line have no such name and are left out."""
    knobs = backend.server_keys()
    out = {}
    for key, value in wanted.items():
        if value is None or key not in knobs:
            continue
        try:
            out[backend.setting_name(key)] = "auto" if value == "auto" else \
                backend.setting_value(key, value)
        except KeyError:
            continue
    return out


def capacity(hardware: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the models share: the GPUs' memory, else the machine's RAM."""
    if not isinstance(hardware, dict):
        return None
    vram = sum(int(g.get("vram_total_bytes") or 0) for g in hardware.get("gpus") or []
               if isinstance(g, dict))
    if vram:
        return {"kind": "GPU memory", "bytes": vram}
    ram = (hardware.get("memory") or {}).get("total_bytes")
    return {"kind": "RAM", "bytes": int(ram)} if ram else None


def _last_throughput(state_dir: Path | None) -> dict[str, Any] | None:
    from velollm.io import runs

    kept = [k for k in runs.stored(state_dir, last=20) if k.run_kind == "benchmark"]
    if not kept:
        return None
    doc = kept[-1].document
    return {"run": kept[-1].path.name, "started_at": doc.get("started_at"),
            "model": doc.get("model"), "summary": doc.get("summary")}


def _applied_env(state: State) -> dict[str, str]:
    env = state.settings.get("env")
    return {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
