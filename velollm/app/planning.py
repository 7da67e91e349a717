"""The I/O shell of `plan` (and so of `apply`): gather every fact once, call the pure core, return
a Plan.

Flow: velollm.yaml -> DesiredState -> its backend (velollm/backends/); the facts (app/facts.py:
hardware, detected or --hardware FILE; model metadata from the server at the planned host, or the
shipped table; what that server runs with now) -> optimizer.recommend -> settings + model
parameters -> the backend renders the target's files; the files on disk now (read back by the
backend) + state (drift) -> planner.diff_settings -> Plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from velollm.app.facts import gather_facts, load_hardware
from velollm.core import planner
from velollm.core.files import RenderedFile, sha256_text
from velollm.core.planner import ParamValue, Plan

if TYPE_CHECKING:
    from velollm.backends.base import Backend, Observed
    from velollm.config import Config, DesiredState
    from velollm.core.facts import Capabilities
    from velollm.core.hardware import Hardware
    from velollm.core.optimizer import Recommendation, Settings
    from velollm.io.state import State


@dataclass(frozen=True)
class PlanRequest:
    config_path: Path
    hardware_path: Path | None = None
    target: str | None = None  # overrides velollm.yaml's target.kind
    path: Path | None = None  # overrides the target's file
    host: str | None = None  # where the running server is (default: the backend's own default)

    def to_inputs(self) -> dict[str, str | None]:
        def s(p: Path | None) -> str | None:
            return None if p is None else str(p.resolve())

        return {"config": s(self.config_path), "hardware": s(self.hardware_path),
                "target": self.target, "path": s(self.path), "host": self.host}

    @classmethod
    def from_inputs(cls, inputs: dict[str, str | None]) -> PlanRequest:
        def p(v: str | None) -> Path | None:
            return None if v is None else Path(v)

        return cls(Path(inputs.get("config") or "velollm.yaml"), p(inputs.get("hardware")),
                   inputs.get("target"), p(inputs.get("path")), inputs.get("host"))


def stable_hardware(hw: Hardware, backend: Backend) -> dict[str, object]:
    """The facts a plan depends on, without values that move every second (free VRAM, RAM)."""
    return {
        "gpus": [(g.vendor, g.name, g.vram_total_bytes) for g in hw.gpus],
        "cpu": (hw.cpu.model, hw.cpu.physical_cores, hw.cpu.logical_threads),
        "ram": hw.memory.total_bytes, "os": hw.os.system,
        "managed_by": backend.managed_by(hw),
    }


# A file velollm renders is a few KiB; anything far larger at a target path is not ours.
MAX_TARGET_BYTES = 4 * 1024 * 1024


def _config_relative(path: str | None, config_file: Path) -> Path | None:
    """target.path as written in velollm.yaml: relative paths are relative to that file."""
    if not path:
        return None
    expanded = Path(path).expanduser()
    return expanded if expanded.is_absolute() else (config_file.parent / expanded).resolve()


def _read(path: Path) -> str | None:
    """What a target file holds now; None when there is none (or it is not text). A FIFO or a
    device at the path is refused, never read: reading one could block forever."""
    from velollm.io.inputfile import read_regular

    raw = read_regular(path, max_bytes=MAX_TARGET_BYTES, what="a target file")
    try:
        return None if raw is None else raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _sha_or_absent(path: Path) -> str:
    text = _read(path)
    return "absent" if text is None else sha256_text(text)


def _read_target(path: Path) -> str | None:
    """A file velollm writes, as it is now: never through a symbolic link, never a FIFO or a
    device (issue 15); those are a clear error here already, as apply would refuse them."""
    from velollm.io.atomic import read_bytes

    data = read_bytes(path)
    return None if data is None else data.decode("utf-8", errors="replace")


def _target_sha(path: Path) -> str:
    text = _read_target(path)
    return "absent" if text is None else sha256_text(text)


def make_plan(req: PlanRequest) -> Plan:
    from velollm.backends import get_backend
    from velollm.config import load_config, profile_path, resolve
    from velollm.core.optimizer import DesiredInput
    from velollm.io.state import drifted, load_state

    config = load_config(req.config_path)
    hw = load_hardware(req.hardware_path)
    desired = resolve(config, hw)  # the overrides match on the hardware, so it comes first
    backend = get_backend(desired.backend).for_config(desired.server)
    names = [m.name for m in desired.models]  # not verify.model: benchmarking it changes nothing
    facts = gather_facts(backend, hw, names, host=req.host,
                         elsewhere=req.hardware_path is not None)
    version = facts.version
    settings = backend.recommend(hw, DesiredInput(desired.server, {m.name: m.params for m in
                                                                   desired.models},
                                                  desired.objective),
                                 facts.models.infos, facts.caps)
    env, reasons = _server_env(backend, settings, desired, facts.caps,
                               _user_keys(config, desired))
    model_params = _model_params(backend, settings, reasons)
    kind = req.target or desired.target.kind
    if kind == "auto":
        kind = backend.auto_target(hw if facts.elsewhere else None)
    # absolute: state records it, and a later plan from another directory must find it
    path = req.path.absolute() if req.path else _config_relative(desired.target.path,
                                                                 config.source)
    state = load_state()
    unset = _retired(state, backend.name, env)
    rendered = backend.render(kind, env, path=path, models=model_params, unset=unset)
    drift_paths = {d.path for d in drifted(state)}
    current_env, current_models = _current(backend, rendered)
    changes = planner.diff_settings(current_env=current_env, desired_env=env,
                                    current_models=current_models, desired_models=model_params,
                                    reasons=reasons,
                                    drifted=any(str(f.path) in drift_paths for f in rendered))
    if not changes:
        changes = tuple(planner.file_drift(str(f.path)) for f in rendered
                        if str(f.path) in drift_paths and _read_target(f.path) != f.content)
    files = tuple(rendered)
    orphans = _orphans(state, files, drift_paths)
    changes += orphans
    fingerprint = {
        "config": _sha_or_absent(req.config_path),
        "profile": _sha_or_absent(profile_path(config.profile, config.source.parent)),
        "hardware": planner.fingerprint_of(stable_hardware(hw, backend)),
        "ollama_version": str(version),
        **{f"file:{f.path}": _target_sha(f.path) for f in files},
        **{f"file:{c.key}": _target_sha(Path(c.key)) for c in orphans},
    }
    observed = _differing(facts.now, env)
    pending = () if changes else _pending(facts.now, env, unset, files[0])
    # a pinned value this version does not read is said once, by the optimizer's note
    unread = {facts.caps.why_not_read(k) for k in desired.server if not facts.caps.reads(k)}
    traps = [w for w in backend.trap_warnings(desired.server, version) if w not in unread]
    warnings = [*settings.warnings, *traps,
                *backend.security_warnings(env),
                *backend.reach_warnings(kind, hw, env, observed)]
    return Plan(target_kind=kind, target_path=str(files[0].path), env=env, unset=unset,
                model_params=model_params, changes=changes, files=files,
                warnings=tuple(dict.fromkeys(warnings)),
                notes=tuple(dict.fromkeys([*settings.notes, *facts.models.notes])),
                settings=tuple(_setting_dict(r) for r in (*settings.server, *settings.models)),
                fingerprint=fingerprint, offline=not facts.models.reachable,
                ollama_version=version,
                inputs=req.to_inputs(), observed=observed, backend=backend.name,
                pending=pending, memory=settings.memory)


def _orphans(state: State, files: tuple[RenderedFile, ...],
             drift_paths: set[str]) -> tuple[planner.Change, ...]:
    """Files velollm wrote earlier (state) that this plan no longer produces: apply takes them
    back, like destroy (the original velollm replaced is put back, else the file deleted)."""
    produced = {str(f.path) for f in files}
    return tuple(planner.file_retired(r.path, r.target, restores=r.backup is not None,
                                      edited=r.path in drift_paths and Path(r.path).exists(),
                                      gone=not Path(r.path).exists())
                 for r in state.files if r.path not in produced)


def _retired(state: State, backend: str, env: Mapping[str, str]) -> tuple[str, ...]:
    """Variables velollm set before (in the settings last applied, or unset by them already)
    that velollm.yaml no longer wants: a shell that sourced an earlier file still has them."""
    if state.settings.get("backend", backend) != backend:
        return ()
    before = state.settings.get("env")
    names = set(before) if isinstance(before, dict) else set()
    unset = state.settings.get("unset")
    names |= set(unset) if isinstance(unset, list) else set()
    return tuple(sorted(n for n in names if isinstance(n, str) and n not in env))


def _differing(now: Mapping[str, Observed], env: dict[str, str]) -> tuple[dict[str, str], ...]:
    """Values the running server or its service has now that differ from what we want."""
    return tuple({"env": name, "value": o.value, "source": o.source}
                 for name, o in sorted(now.items()) if env.get(name) != o.value)


def _pending(now: Mapping[str, Observed], env: Mapping[str, str], unset: tuple[str, ...],
             target: RenderedFile) -> tuple[dict[str, str | None], ...]:
    """The target's files hold what velollm.yaml wants, but the running server (its environment
    was read) still has other values for settings velollm manages: it has not restarted since."""
    server = next((o.source for o in now.values() if o.source.startswith("running server")), "")
    if not server:
        return ()
    restart = target.by_hand or " && ".join(target.follow_up)
    found: list[dict[str, str | None]] = []
    for name in sorted({*env, *unset}):
        o = now.get(name)
        has = o.value if o is not None and o.source == server else None  # else: not in its env
        if has != env.get(name):
            found.append({"env": name, "now": has, "wants": env.get(name), "source": server,
                          "restart": restart})
    return tuple(found)


def _user_keys(config: Config, desired: DesiredState) -> set[str]:
    """Server keys the user set in velollm.yaml itself (not inherited from the profile)."""
    keys = set(config.server)
    for i in desired.matched_overrides:
        keys |= set(config.overrides[i].server)
    return keys


def _server_env(backend: Backend, settings: Settings, desired: DesiredState,
                caps: Capabilities, user_keys: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    env: dict[str, str] = {}
    reasons: dict[str, str] = {}
    origin = f"set by the {desired.profile} profile"
    for rec in settings.server:
        if rec.value is None:
            continue
        name = backend.setting_name(rec.key)
        env[name] = backend.setting_value(rec.key, rec.value)
        reason = rec.reason
        if rec.source == "pin" and rec.key not in user_keys:
            reason = reason.replace("pinned in velollm.yaml", origin, 1)
        reasons[name] = reason
    handled = {rec.key for rec in settings.server}
    for key, value in desired.server.items():
        if key in handled or value in (None, "auto") or key not in caps.known:
            continue
        if not caps.reads(key):  # settings.notes says why
            continue
        name = backend.setting_name(key)
        env[name] = backend.setting_value(key, value)
        reasons[name] = "set in velollm.yaml" if key in user_keys else origin
    return dict(sorted(env.items())), reasons


def _model_params(backend: Backend, settings: Settings, reasons: dict[str, str]
                  ) -> dict[str, dict[str, ParamValue]]:
    params: dict[str, dict[str, ParamValue]] = {}
    for rec in settings.models:
        if rec.value is None or rec.model is None:
            continue
        value = backend.param_value(rec.key, rec.value)
        if value == ():  # `stop: []` writes no line, so it reads back as unset: plan that
            continue
        params.setdefault(rec.model, {})[rec.key] = value
        reasons[f"{rec.model} {rec.key}"] = rec.reason
    return params


def _current(backend: Backend, rendered: list[RenderedFile]
             ) -> tuple[dict[str, str], dict[str, dict[str, ParamValue]]]:
    """What the target's files hold now, read back by the backend that wrote them."""
    env: dict[str, str] = {}
    models: dict[str, dict[str, ParamValue]] = {}
    for f in rendered:
        text = _read_target(f.path)
        if text is not None:
            file_env, file_models = backend.read_back(f.kind, text)
            env.update(file_env)
            models.update(file_models)
    return env, models


def _setting_dict(rec: Recommendation) -> dict[str, object]:
    return {"key": rec.key, "value": rec.value, "reason": rec.reason, "source": rec.source,
            "scope": rec.scope, "model": rec.model}
