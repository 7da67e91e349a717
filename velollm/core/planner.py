"""The Plan value: what would change, why, which files would be written, and a fingerprint of
every input so a saved plan can refuse to apply once the world moved on. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypeAlias

from velollm.core.files import RenderedFile
from velollm.errors import ConfigError

PLAN_FORMAT = 1
Action = Literal["add", "change", "remove"]
SYMBOL: dict[str, str] = {"add": "+", "change": "~", "remove": "-"}
# A model parameter as the backend writes it: one string, or several (stop sequences: one
# PARAMETER line each). Kept typed from velollm.yaml to the file and back, so a list is never
# squeezed into one string that another module has to split again.
ParamValue: TypeAlias = str | tuple[str, ...]


@dataclass(frozen=True)
class Change:
    action: Action
    scope: Literal["server", "model", "file"]
    key: str  # OLLAMA_NUM_PARALLEL, "llama3.1:8b num_ctx" (model parameter), or a file path
    before: ParamValue | None
    after: ParamValue | None
    reason: str


@dataclass(frozen=True)
class Plan:
    target_kind: str
    target_path: str
    env: Mapping[str, str]  # desired server environment, exactly as written
    model_params: Mapping[str, Mapping[str, ParamValue]]
    changes: tuple[Change, ...]
    files: tuple[RenderedFile, ...]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # settings deliberately not written, and why
    settings: tuple[dict[str, Any], ...] = ()  # every recommendation with its reason
    fingerprint: Mapping[str, str] = field(default_factory=dict)
    offline: bool = False
    ollama_version: str | None = None
    inputs: Mapping[str, str | None] = field(default_factory=dict)  # how to re-plan (staleness)
    # What the server runs with now, from sources other than the target: {env, value, source}
    observed: tuple[dict[str, str], ...] = ()
    backend: str = "ollama"  # the server this plan configures (velollm.yaml's backend:)
    # Variables velollm set before that velollm.yaml no longer wants: the shell files unset them
    # (a shell that sourced the earlier file would hand them on), state.json keeps them for verify
    unset: tuple[str, ...] = ()
    # With no changes: managed settings the running server still has otherwise (it did not
    # restart since the files got them), {env, now, wants, source, restart}; now/wants None: unset
    pending: tuple[dict[str, str | None], ...] = ()
    # What the server allocates with these settings, per model and device (core/memory_rows.py):
    # {model, device, weights_bytes, kv_bytes, compute_bytes, other_bytes, total_bytes}
    memory: tuple[dict[str, Any], ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        return {a: sum(1 for c in self.changes if c.action == a) for a in SYMBOL}

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def retired_files(self) -> tuple[str, ...]:
        """Files velollm wrote earlier that this plan no longer produces: apply takes them back."""
        return tuple(c.key for c in self.changes if c.scope == "file" and c.action == "remove")

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["env"] = dict(self.env)
        doc["model_params"] = {m: {k: _json(v) for k, v in p.items()}
                               for m, p in self.model_params.items()}
        doc["changes"] = [{**c, "before": _json(c["before"]), "after": _json(c["after"])}
                          for c in doc["changes"]]
        doc["files"] = [f.to_dict() for f in self.files]
        doc["fingerprint"] = dict(self.fingerprint)
        doc["inputs"] = dict(self.inputs)
        return {"kind": "velollm.plan", "plan_format": PLAN_FORMAT, **doc,
                "summary": self.counts}


def fingerprint_of(value: Any) -> str:
    """Stable hash of any JSON-able input (dict key order does not matter)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _model_key(model: str, param: str) -> str:
    return f"{model} {param}"


def _flat(models: Mapping[str, Mapping[str, ParamValue]]) -> dict[str, ParamValue]:
    return {_model_key(m, p): v for m, ps in models.items() for p, v in ps.items()}


def _deepdiff() -> Any:
    """Import DeepDiff without its optional numpy/pydantic support.

    deepdiff imports numpy and pydantic when they are installed (~100 ms together on a 2-core
    machine, a third of a plan); our diffs are maps of strings and tuples and need neither. They
    are hidden only for that import, and only when nothing has imported them yet.
    """
    import sys

    hidden = [m for m in ("numpy", "pydantic") if m not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail fast
    try:
        from deepdiff import DeepDiff
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]
    return DeepDiff


def diff_settings(*, current_env: Mapping[str, str], desired_env: Mapping[str, str],
                  current_models: Mapping[str, Mapping[str, ParamValue]],
                  desired_models: Mapping[str, Mapping[str, ParamValue]],
                  reasons: Mapping[str, str], drifted: bool = False) -> tuple[Change, ...]:
    """Changes from what the target holds now to what velollm.yaml wants, via deepdiff.

    A value compares whole: deepdiff may report a stop list's change inside the tuple (one
    sequence added), and that is one change of the list's setting.
    """
    before: dict[str, dict[str, ParamValue]] = {"server": dict(current_env),
                                                "model": _flat(current_models)}
    after: dict[str, dict[str, ParamValue]] = {"server": dict(desired_env),
                                               "model": _flat(desired_models)}
    touched = _touched(before, after)
    outside = " (changed outside velollm)" if drifted else ""
    changes: list[Change] = []
    for scope, key in sorted(touched, key=lambda sk: (sk[0] != "server", sk[1])):
        old, new = before[scope].get(key), after[scope].get(key)
        action: Action = "add" if old is None else "remove" if new is None else "change"
        reason = ("no longer wanted by velollm.yaml" if new is None
                  else reasons.get(key, "set in velollm.yaml"))
        if action != "add":
            reason += outside
        changes.append(Change(action, scope, key, old, new, reason))  # type: ignore[arg-type]
    return tuple(changes)


def _touched(before: Mapping[str, Mapping[str, ParamValue]],
             after: Mapping[str, Mapping[str, ParamValue]]) -> set[tuple[str, str]]:
    """(scope, key) of every setting that differs. Nothing to compare (the same values, or one
    side empty: the first plan, or nothing wanted any more) needs no diff library, and a plan
    then spares its import (~40 ms of a 200 ms start)."""
    if before == after:
        return set()
    if not any(before.values()) or not any(after.values()):
        return {(scope, key) for side in (before, after) for scope, values in side.items()
                for key in values}
    # threshold 0: always list single keys, never replace a whole dict that shares no key.
    diff = _deepdiff()(before, after, view="tree", threshold_to_diff_deeper=0)
    touched: set[tuple[str, str]] = set()
    for items in diff.values():
        for item in items:
            scope, key = item.path(output_format="list")[:2]
            touched.add((str(scope), str(key)))
    return touched


def file_drift(path: str) -> Change:
    """A managed file edited by hand without changing any value velollm reads back."""
    return Change("change", "file", path, "edited by hand", "velollm's content",
                  "changed outside velollm: apply restores the file velollm wrote")


def file_retired(path: str, target: str, *, restores: bool, edited: bool, gone: bool) -> Change:
    """A file velollm wrote earlier (for `target`) that velollm.yaml no longer produces: another
    target, another path, a model without parameters now."""
    what = f"the {target} target" if target else "a target"
    reason = f"velollm wrote it for {what}; velollm.yaml no longer produces it: apply "
    reason += ("puts back the original it replaced" if restores
               else "forgets it (already deleted)" if gone else "deletes it")
    if edited:
        reason += (" (changed outside velollm: apply refuses without --force, which keeps the "
                   "edited file in velollm's backups)")
    return Change("remove", "file", path, f"written for {what}", None, reason)


def _json(value: ParamValue | None) -> str | list[str] | None:
    """A value as the plan file holds it: several stop sequences are a JSON list."""
    return list(value) if isinstance(value, tuple) else value


def _typed(value: Any) -> ParamValue:
    """The inverse of _json, for a saved plan: a list of strings is a tuple again."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError(f"{value!r} is neither text nor a list of text")


def plan_from_dict(doc: Mapping[str, Any]) -> Plan:
    """Read a saved plan file (`velollm plan --out`); refuse other formats clearly."""
    if doc.get("kind") != "velollm.plan" or doc.get("plan_format") != PLAN_FORMAT:
        raise ConfigError("this file is not a velollm plan of a supported format",
                          hint="create one with `velollm plan --out plan.json`")
    try:
        _check_files(doc["files"])
        _check_lists(doc)
        return Plan(
            target_kind=doc["target_kind"], target_path=doc["target_path"],
            env=dict(doc["env"]),
            model_params={m: {k: _typed(v) for k, v in p.items()}
                          for m, p in doc["model_params"].items()},
            changes=tuple(Change(**{**c, **{k: _typed(c[k]) for k in ("before", "after")
                                            if c[k] is not None}}) for c in doc["changes"]),
            files=tuple(RenderedFile.from_dict(f) for f in doc["files"]),
            warnings=tuple(doc["warnings"]), notes=tuple(doc["notes"]),
            settings=tuple(doc["settings"]), fingerprint=dict(doc["fingerprint"]),
            offline=bool(doc["offline"]), ollama_version=doc.get("ollama_version"),
            inputs=dict(doc.get("inputs") or {}),
            observed=tuple(doc.get("observed") or ()),
            backend=str(doc.get("backend") or "ollama"),
            unset=tuple(str(n) for n in doc.get("unset") or ()),
            pending=tuple(doc.get("pending") or ()),
            memory=tuple(doc.get("memory") or ()),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"the plan file is damaged or incomplete ({exc})",
                          hint="create a new one with `velollm plan --out plan.json`") from None


_FILE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "path": str, "content": str, "sha256": str, "mode": int, "kind": str, "follow_up": list,
    "pickup": str, "by_hand": (str, type(None))}


def _check_files(files: Any) -> None:
    """The types of a saved plan's files, before anything converts them (int("4777") or
    int(420.5) would turn a damaged mode into another one)."""
    if not isinstance(files, list):
        raise TypeError("files is not a list")
    for i, f in enumerate(files):
        if not isinstance(f, dict):
            raise TypeError(f"files[{i}] is not an object")
        for key, kind in _FILE_FIELDS.items():
            value = f.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise TypeError(f"files[{i}].{key} is missing or of the wrong type")
        if not all(isinstance(c, str) for c in f["follow_up"]):
            raise TypeError(f"files[{i}].follow_up holds something else than command lines")


def _check_lists(doc: Mapping[str, Any]) -> None:
    """The shown-only parts of a saved plan: lists of text or of objects, as plan wrote them."""
    for key, kind in (("warnings", str), ("notes", str), ("settings", dict), ("changes", dict),
                      ("observed", dict), ("pending", dict), ("unset", str), ("memory", dict)):
        value = doc.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
            raise TypeError(f"{key} is not a list of {kind.__name__}s")
    for key in ("env", "model_params", "fingerprint", "inputs"):
        if not isinstance(doc.get(key) or {}, dict):
            raise TypeError(f"{key} is not an object")


def stale_reasons(saved: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """What changed between the inputs a plan saw and the inputs of today."""
    names = {"config": "velollm.yaml", "profile": "the profile", "hardware": "the hardware",
             "state": "velollm's state", "ollama_version": "the Ollama version"}
    reasons: list[str] = []
    for key in sorted(set(saved) | set(now)):
        if saved.get(key) != now.get(key):
            label = names.get(key, key.removeprefix("file:"))
            reasons.append(f"{label} changed since the plan was made")
    return reasons

