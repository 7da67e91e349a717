"""The I/O shell of `plan` (and so of `apply`): gather every fact, call the pure core, return a Plan.

Flow: velollm.yaml -> DesiredState; hardware (detected or --hardware FILE); model metadata (live
server or the shipped table) -> optimizer.recommend -> env + model parameters -> rendered files;
the files on disk now (read back) + state (drift) -> planner.diff_settings -> Plan.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velollm.backends.ollama import knobs, targets
from velollm.core import planner
from velollm.core.planner import Plan, PlannedFile
from velollm.errors import ConfigError
from velollm.io import readback


@dataclass(frozen=True)
class PlanRequest:
    config_path: Path
    hardware_path: Path | None = None
    target: str | None = None  # overrides velollm.yaml's target.kind
    path: Path | None = None  # overrides the target's file
    host: str | None = None  # where the running server is (default: OLLAMA_HOST)

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


def load_hardware(path: Path | None) -> dict[str, Any]:
    from velollm.io.hardware import Hardware, detect

    if path is None:
        return detect().to_dict()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the hardware file {path}: {exc.strerror}",
                          hint="create it with `velollm detect --json > hardware.json`") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not JSON ({exc})",
                          hint="create it with `velollm detect --json > hardware.json`") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a hardware document",
                          hint="create it with `velollm detect --json > hardware.json`")
    return Hardware.from_dict(data).to_dict()


def stable_hardware(hw: dict[str, Any]) -> dict[str, Any]:
    """The facts a plan depends on, without values that move every second (free VRAM, RAM)."""
    return {
        "gpus": [(g["vendor"], g["name"], g["vram_total_bytes"]) for g in hw["gpus"]],
        "cpu": (hw["cpu"]["model"], hw["cpu"]["physical_cores"], hw["cpu"]["logical_threads"]),
        "ram": hw["memory"]["total_bytes"], "os": hw["os"]["system"],
        "managed_by": hw["ollama"]["managed_by"],
    }


def _target_kind(requested: str, hw: dict[str, Any], planning_elsewhere: bool) -> str:
    if requested != "auto":
        return requested
    if planning_elsewhere:
        facts = targets.PlatformFacts(hw["os"]["system"],
                                      hw["ollama"]["managed_by"] == "systemd")
    else:
        facts = targets.detect_facts()
    return targets.auto_target(facts)


def _config_relative(path: str | None, config_file: Path) -> Path | None:
    """target.path as written in velollm.yaml: relative paths are relative to that file."""
    if not path:
        return None
    expanded = Path(path).expanduser()
    return expanded if expanded.is_absolute() else (config_file.parent / expanded).resolve()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _sha_or_absent(path: Path) -> str:
    text = _read(path)
    return "absent" if text is None else planner.sha256_text(text)


def make_plan(req: PlanRequest) -> Plan:
    from velollm.backends.ollama.host import parse_host
    from velollm.backends.ollama.modelinfo import gather
    from velollm.config import load_config, profile_path, resolve
    from velollm.core.optimizer import DesiredInput, recommend
    from velollm.io.state import drifted, load_state

    config = load_config(req.config_path)
    hw = load_hardware(req.hardware_path)
    desired = resolve(config, hw)
    elsewhere = req.hardware_path is not None
    base_url = None if elsewhere else parse_host(req.host or os.environ.get("OLLAMA_HOST"))
    names = [m.name for m in desired.models]
    if desired.verify.model:
        names.append(desired.verify.model)
    facts = gather(names, base_url)
    version = facts.server_version or hw["ollama"]["server_version"] or hw["ollama"]["version"]
    settings = recommend(hw, DesiredInput(desired.server, {m.name: m.params for m in
                                                           desired.models}, desired.objective),
                         facts.infos, version)
    user_keys = _user_keys(config, desired)
    env, reasons, notes = _server_env(settings, desired.server, version, user_keys,
                                      desired.profile)
    model_params = _model_params(settings, reasons)
    kind = _target_kind(req.target or desired.target.kind, hw, elsewhere)
    path = req.path or _config_relative(desired.target.path, config.source)
    rendered = targets.render_target(kind, env, path=path)
    if model_params:
        rendered += targets.render_target("modelfile", {}, models=model_params)
    state = load_state()
    drift_paths = {d.path for d in drifted(state)}
    current_env, current_models, drift = _current(rendered, drift_paths)
    changes = planner.diff_settings(current_env=current_env, desired_env=env,
                                    current_models=current_models, desired_models=model_params,
                                    reasons=reasons, drifted=drift)
    if not changes:
        changes = tuple(planner.file_drift(str(f.path)) for f in rendered
                        if str(f.path) in drift_paths and _read(f.path) != f.content)
    files = tuple(PlannedFile(str(f.path), f.content, planner.sha256_text(f.content), f.mode,
                              f.target, f.follow_up, f.pickup) for f in rendered)
    fingerprint = {
        "config": _sha_or_absent(req.config_path),
        "profile": _sha_or_absent(profile_path(config.profile, config.source.parent)),
        "hardware": planner.fingerprint_of(stable_hardware(hw)),
        "ollama_version": str(version),
        **{f"file:{f.path}": _sha_or_absent(Path(f.path)) for f in files},
    }
    observed = () if elsewhere else observe(env)
    warnings = [*settings.warnings, *knobs.trap_warnings(dict(desired.server), version),
                *_security_warnings(env), *_reach_warnings(kind, hw, env, observed)]
    return Plan(target_kind=kind, target_path=str(files[0].path), env=env,
                model_params=model_params, changes=changes, files=files,
                warnings=tuple(dict.fromkeys(warnings)),
                notes=tuple(dict.fromkeys([*notes, *facts.notes])),
                settings=tuple(_setting_dict(r) for r in (*settings.server, *settings.models)),
                fingerprint=fingerprint, offline=not facts.reachable, ollama_version=version,
                inputs=req.to_inputs(), observed=observed)


def observe(env: dict[str, str]) -> tuple[dict[str, str], ...]:
    """Values the running server or its service has now that differ from what we want."""
    from velollm.backends.ollama.current import read_current

    names = [k.env for k in knobs.SERVER_KNOBS.values()]
    now = read_current(known_names=names).effective()
    return tuple({"env": name, "value": o.value, "source": o.source}
                 for name, o in sorted(now.items()) if env.get(name) != o.value)


def _reach_warnings(kind: str, hw: dict[str, Any], env: dict[str, str],
                    observed: tuple[dict[str, str], ...]) -> list[str]:
    """Settings that would be written where the server never looks, or be overridden."""
    out: list[str] = []
    managed = hw["ollama"]["managed_by"]
    if kind in ("shell", "fish") and managed == "systemd":
        out.append(f"Ollama runs as the systemd service ollama.service, which never reads a "
                   f"{kind} file: use `--target systemd` (with sudo) so the service gets them")
    if kind in ("shell", "fish") and managed in ("app", "launchd"):
        out.append(f"Ollama.app never reads a {kind} file: use `--target launchd`")
    ours = "systemd drop-in /etc/systemd/system/ollama.service.d/velollm.conf"
    for o in observed:
        later_dropin = (o["source"].startswith("systemd drop-in") and o["source"] > ours)
        if o["env"] in env and kind == "systemd" and later_dropin:
            out.append(f"{o['env']}={o['value']} in {o['source']} is read after velollm's "
                       f"drop-in and overrides {env[o['env']]}: remove it there")
    return out


def _user_keys(config: Any, desired: Any) -> set[str]:
    """Server keys the user set in velollm.yaml itself (not inherited from the profile)."""
    keys = set(config.server)
    for i in desired.matched_overrides:
        keys |= set(config.overrides[i].server)
    return keys


def _server_env(settings: Any, pinned: dict[str, object], version: str | None,
                user_keys: set[str], profile: str
                ) -> tuple[dict[str, str], dict[str, str], list[str]]:
    env: dict[str, str] = {}
    reasons: dict[str, str] = {}
    notes: list[str] = []
    origin = f"set by the {profile} profile"
    for rec in settings.server:
        if rec.value is None:
            continue
        name = knobs.SERVER_KNOBS[rec.key].env
        env[name] = knobs.env_value(rec.key, rec.value)
        reason = rec.reason
        if rec.source == "pin" and rec.key not in user_keys:
            reason = reason.replace("pinned in velollm.yaml", origin, 1)
        reasons[name] = reason
    handled = {rec.key for rec in settings.server}
    for key, value in pinned.items():
        if key in handled or value in (None, "auto") or key not in knobs.SERVER_KNOBS:
            continue
        name = knobs.SERVER_KNOBS[key].env
        if not knobs.reads(key, version):
            notes.append(f"{name}: {knobs.why_not_read(key, version)}")
            continue
        env[name] = knobs.env_value(key, value)
        reasons[name] = "set in velollm.yaml" if key in user_keys else origin
    return dict(sorted(env.items())), reasons, notes


def _model_params(settings: Any, reasons: dict[str, str]) -> dict[str, dict[str, str]]:
    params: dict[str, dict[str, str]] = {}
    for rec in settings.models:
        if rec.value is None or rec.model is None:
            continue
        if isinstance(rec.value, (list, tuple)):  # stop: one PARAMETER line per sequence
            value = readback.join_stops([str(v) for v in rec.value])
        else:
            value = str(rec.value).lower() if isinstance(rec.value, bool) else str(rec.value)
        params.setdefault(rec.model, {})[rec.key] = value
        reasons[f"{rec.model} {rec.key}"] = rec.reason
    return params


def _current(rendered: list[targets.RenderedFile], drift_paths: set[str]
             ) -> tuple[dict[str, str], dict[str, dict[str, str]], bool]:
    env: dict[str, str] = {}
    models: dict[str, dict[str, str]] = {}
    # knobs whose variable has no OLLAMA_ prefix (CUDA_VISIBLE_DEVICES, HTTPS_PROXY, ...) too
    known = {k.env for k in knobs.SERVER_KNOBS.values()}
    for f in rendered:
        text = _read(f.path)
        if text is None:
            continue
        if f.target == "modelfile":
            model, params = readback.parse_modelfile(text)
            if model:
                models[model] = params
        else:
            env.update({k: v for k, v in readback.parse_env_file(f.target, text).items()
                        if k.startswith("OLLAMA_") or k in known})
    drift = any(str(f.path) in drift_paths for f in rendered)
    return env, models, drift


def _security_warnings(env: dict[str, str]) -> list[str]:
    from velollm.backends.ollama.host import is_loopback, parse_host

    out: list[str] = []
    if "OLLAMA_HOST" in env and not is_loopback(parse_host(env["OLLAMA_HOST"])):
        out.append(f"OLLAMA_HOST={env['OLLAMA_HOST']} listens beyond this machine: Ollama's API "
                   "has no authentication, so anyone who can reach the port can use and delete "
                   "your models; bind 127.0.0.1 or put an authenticating proxy in front")
    if any(o.strip() == "*" for o in env.get("OLLAMA_ORIGINS", "").split(",")):
        out.append("OLLAMA_ORIGINS=* lets every web page you open call your Ollama API; "
                   "list the origins you need instead")
    return out


def _setting_dict(rec: Any) -> dict[str, Any]:
    return {"key": rec.key, "value": rec.value, "reason": rec.reason, "source": rec.source,
            "scope": rec.scope, "model": rec.model}
