"""velollm.yaml and profiles -> frozen values; `resolve()` merges them for one machine.

Loading is safe against hostile YAML (velollm/yamlload.py) and reports every problem at once
(velollm/configcheck.py). Precedence: profile < velollm.yaml server/models < matching overrides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velollm.config.check import builtin_profiles, check, is_profile_path
from velollm.config.yamlload import Loaded, load_yaml
from velollm.errors import ConfigError, SchemaValidationError
from velollm.resources import data_dir

if TYPE_CHECKING:
    from velollm.core.hardware import Hardware

DEFAULT_PROFILE = "balanced"
_GIB = 2**30


@dataclass(frozen=True)
class Target:
    kind: str = "auto"
    path: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Override:
    when: dict[str, object]
    server: dict[str, object] = field(default_factory=dict)
    models: list[ModelSpec] = field(default_factory=list)


@dataclass(frozen=True)
class VerifySpec:
    model: str | None = None
    iterations: int = 5
    max_regression: float = 0.05


@dataclass(frozen=True)
class Config:
    version: int
    backend: str
    profile: str
    objective: str | None
    target: Target
    server: dict[str, object]
    models: list[ModelSpec]
    overrides: list[Override]
    verify: VerifySpec
    source: Path
    raw: dict[str, Any]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    objective: str
    server: dict[str, object]
    models: list[ModelSpec]
    verify: dict[str, object]
    source: Path


@dataclass(frozen=True)
class DesiredState:
    backend: str
    profile: str
    objective: str
    target: Target
    server: dict[str, object]          # a value or "auto" per knob
    models: list[ModelSpec]
    verify: VerifySpec
    matched_overrides: list[int]       # indexes into config.overrides
    facts: dict[str, object]           # the hardware facts `when` was matched against


def _invalid(name: str, problems: list[dict[str, Any]]) -> SchemaValidationError:
    lines = sorted({p["line"] for p in problems if p.get("line")})
    where = f" (line {', '.join(map(str, lines))})" if lines else ""
    named = [{"file": name, **p} for p in problems]  # so every command can print FILE:LINE
    return SchemaValidationError(f"{name} is not valid{where}: {len(problems)} problem(s)",
                                 named)


def _models(items: list[dict[str, Any]] | None) -> list[ModelSpec]:
    return [ModelSpec(m["name"], {k: v for k, v in m.items() if k != "name"})
            for m in items or []]


def load_config(path: Path) -> Config:
    loaded = load_yaml(path)
    problems = check(loaded, "config", path.parent)
    if problems:
        raise _invalid(str(path), problems)
    return _build_config(loaded, path)


def _build_config(loaded: Loaded, path: Path) -> Config:
    d: dict[str, Any] = loaded.data
    verify = d.get("verify") or {}
    return Config(
        version=d["version"], backend=d.get("backend", "ollama"),
        profile=d.get("profile", DEFAULT_PROFILE), objective=d.get("objective"),
        target=Target(**(d.get("target") or {})), server=dict(d.get("server") or {}),
        models=_models(d.get("models")),
        overrides=[Override(o["when"], dict(o.get("server") or {}), _models(o.get("models")))
                   for o in d.get("overrides") or []],
        verify=VerifySpec(**verify), source=path, raw=d)


def profile_path(name_or_path: str, base_dir: Path) -> Path:
    if is_profile_path(name_or_path):
        return base_dir / Path(name_or_path).expanduser()
    if name_or_path not in builtin_profiles():
        raise ConfigError(f"unknown profile {name_or_path!r}",
                          hint=f"built-in profiles: {', '.join(builtin_profiles())}")
    return data_dir("profiles") / f"{name_or_path}.yaml"


def load_profile(name_or_path: str, base_dir: Path) -> Profile:
    path = profile_path(name_or_path, base_dir)
    loaded = load_yaml(path)
    problems = check(loaded, "profile", path.parent)
    if problems:
        raise _invalid(str(path), problems)
    d: dict[str, Any] = loaded.data
    return Profile(name=path.stem if not is_profile_path(name_or_path) else str(path),
                   description=d["description"], objective=d["objective"],
                   server=dict(d.get("server") or {}), models=_models(d.get("models")),
                   verify=dict(d.get("verify") or {}), source=path)


def resolve(config: Config, hardware: Hardware | None) -> DesiredState:
    """`hardware` None: the machine is not known (verify needs only verify: and backend:, which
    overrides never set), so no override matches and `facts` is empty."""
    profile = load_profile(config.profile, config.source.parent)
    facts = {} if hardware is None else hardware_facts(hardware)
    server = {**profile.server, **config.server}
    models = _merge_models({}, profile.models)
    models = _merge_models(models, config.models)
    matched = []
    for i, override in enumerate(config.overrides):
        if hardware is not None and matches(override.when, facts):
            matched.append(i)
            server.update(override.server)
            models = _merge_models(models, override.models)
    verify = {**profile.verify, **{k: v for k, v in vars(config.verify).items()
                                   if k in config.raw.get("verify", {})}}
    return DesiredState(
        backend=config.backend, profile=profile.name,
        objective=config.objective or profile.objective, target=config.target, server=server,
        models=[ModelSpec(n, p) for n, p in models.items()], verify=VerifySpec(**verify),
        matched_overrides=matched, facts=facts)


def _merge_models(into: dict[str, dict[str, object]],
                  specs: list[ModelSpec]) -> dict[str, dict[str, object]]:
    out = {name: dict(params) for name, params in into.items()}
    for spec in specs:
        out.setdefault(spec.name, {}).update(spec.params)
    return out


_ARCH = {"aarch64": "arm64", "amd64": "x86_64", "x64": "x86_64"}


def hardware_facts(hw: Hardware) -> dict[str, object]:
    """The facts an override's `when` can test (VRAM in whole GiB); None where unknown."""
    # whole GiB, as cards are sold: a "24 GB" RTX 4090 reports 23.99 GiB and must match ">=24"
    vram = [round(g.vram_total_bytes / _GIB) for g in hw.gpus if g.vram_total_bytes is not None]
    known = len(vram) == len(hw.gpus)  # unknown VRAM on any GPU makes the VRAM facts unknown
    arch = (hw.cpu.arch or hw.os.arch).lower()
    return {
        "gpu_vendor": sorted({g.vendor for g in hw.gpus}),
        "gpu_count": len(hw.gpus),
        "vram_gb": (max(vram) if vram else 0.0) if known else None,
        "vram_total_gb": sum(vram) if known else None,
        "ram_gb": hw.memory.total_bytes / _GIB,
        "os": hw.os.system,
        "arch": _ARCH.get(arch, arch) if arch else None,
        "cpu_only": not hw.gpus,
    }


_CMP = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(\d+(?:\.\d+)?)\s*$")


def compare(actual: object, spec: object) -> bool:
    """`spec` is ">=24", "<8", "==2" or a bare number meaning "at least"."""
    if not isinstance(actual, (int, float)):
        return False  # unknown facts never match
    m = _CMP.match(str(spec))
    if m is None:
        return False
    op, n = m.group(1) or ">=", float(m.group(2))
    return {">=": actual >= n, "<=": actual <= n, "==": actual == n, "!=": actual != n,
            ">": actual > n, "<": actual < n}[op]


def matches(when: dict[str, object], facts: dict[str, object]) -> bool:
    for key, spec in when.items():
        fact = facts.get(key)
        if key in ("gpu_count", "vram_gb", "vram_total_gb", "ram_gb"):
            ok = compare(fact, spec)
        elif key == "cpu_only":
            ok = fact == spec
        else:
            wanted = {str(s).lower() for s in (spec if isinstance(spec, list) else [spec])}
            if key == "arch":
                wanted = {_ARCH.get(w, w) for w in wanted}
            have = set(fact) if isinstance(fact, list) else {str(fact).lower()}
            ok = bool(wanted & have)
        if not ok:
            return False
    return True
