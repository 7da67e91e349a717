"""The I/O shell of `apply` and `destroy`: load or make the plan, refuse a stale one, write it
through fileops, run (or print) what makes the server pick it up."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velollm.core import planner
from velollm.core.planner import Plan
from velollm.errors import ConfigError, StalePlanError, UsageError, VelollmError, WriteError

if TYPE_CHECKING:
    from velollm.backends.base import Backend
    from velollm.io.fileops import ApplyResult
    from velollm.io.state import State

FOLLOW_UP_TIMEOUT = 120.0


@dataclass
class Outcome:
    changed: bool
    diffs: list[dict[str, str | None]]
    files: list[str]
    msg: str
    follow_up: list[str] = field(default_factory=list)  # commands the user still has to run
    ran: list[str] = field(default_factory=list)  # commands velollm ran
    warnings: list[str] = field(default_factory=list)  # e.g. a --restart velollm cannot do
    removed: list[str] = field(default_factory=list)  # of `files`: taken back, not written

    def to_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "diff": self.diffs, "msg": self.msg,
                "files": self.files, "follow_up": self.follow_up, "ran": self.ran,
                "warnings": self.warnings, "removed": self.removed}


PLAN_FILE_LIMIT = 16 << 20  # a plan holds a few small files; more is not one of ours
_NEW_PLAN = "make a new one with `velollm plan --out PLAN.json`, review it, and apply that"


def load_plan_file(path: Path) -> Plan:
    from velollm.io.atomic import read_bytes

    hint = "create one with `velollm plan --out plan.json`"
    try:
        data = read_bytes(path, PLAN_FILE_LIMIT, follow=True)
    except WriteError as exc:
        raise ConfigError(f"cannot read the plan file: {exc}", hint=hint) from None
    if data is None:
        raise ConfigError(f"cannot read the plan file {path}: No such file or directory",
                          hint=hint)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ConfigError(f"{path} is not a JSON plan file", hint=hint) from None
    if not isinstance(doc, dict) or doc.get("kind") != "velollm.plan":
        raise ConfigError(f"{path} is not a velollm plan", hint=hint)
    return planner.plan_from_dict(doc)


def rederive(saved: Plan, source: Path) -> Plan:
    """The plan apply writes for a saved plan: derived again from its inputs and the live facts,
    never taken from the file (issue 15: a plan file is data, not a program). Refused when the
    world moved on since (Terraform's rule: stale) or when the file says anything else than
    that derivation: other files, content, modes, paths or follow-up commands."""
    from velollm.app.planning import PlanRequest, make_plan
    from velollm.core.plancheck import tampered

    inputs = _inputs(saved, source)
    try:
        fresh = make_plan(PlanRequest.from_inputs({**inputs, "path": None}))
    except UsageError as exc:  # the plan's --host, say: a damaged plan, not a usage error
        raise ConfigError(f"the saved plan {source} cannot be used: {exc.message}",
                          hint=_NEW_PLAN) from None
    wanted = inputs.get("path")
    if wanted is not None and Path(wanted) != Path(fresh.target_path):
        # --path at plan time: velollm.yaml alone decides where a saved plan may write
        raise ConfigError(
            f"the saved plan {source} writes to {wanted}, but velollm.yaml's target is "
            f"{fresh.target_path}: a saved plan writes only where velollm.yaml says",
            hint="set target.path in velollm.yaml to that file and make a new plan, or apply "
                 "without a plan file (`velollm apply --path ...`)")
    reasons = planner.stale_reasons(saved.fingerprint, fresh.fingerprint)
    if reasons:
        raise StalePlanError("Saved plan is stale: " + "; ".join(reasons),
                             hint="make a new one with `velollm plan --out PLAN.json`")
    differs = tampered(saved, fresh)
    if differs:
        raise ConfigError(f"the saved plan {source} is not what velollm derives from "
                          f"velollm.yaml and this machine: {'; '.join(differs[:4])}"
                          + (f" (and {len(differs) - 4} more)" if len(differs) > 4 else "")
                          + ". Nothing was written.", hint=_NEW_PLAN)
    return fresh


def _inputs(saved: Plan, source: Path) -> dict[str, str | None]:
    """The plan's inputs, checked: text or null, a target velollm writes, and a velollm.yaml
    of the user's own."""
    from velollm.backends import BACKENDS

    inputs = dict(saved.inputs)
    bad = [k for k, v in inputs.items() if v is not None and not isinstance(v, str)]
    bad += [k for k in inputs if k not in ("config", "hardware", "target", "path", "host")]
    if bad or any("\0" in (v or "") for v in inputs.values()):
        raise ConfigError(f"the saved plan {source} has damaged inputs ({', '.join(bad)})",
                          hint=_NEW_PLAN)
    kinds = {"auto", *(k for b in BACKENDS.values() for k in b.target_kinds)}
    if inputs.get("target") not in (None, *kinds):
        raise ConfigError(f"the saved plan {source} names the target {inputs['target']!r}, "
                          "which velollm does not write", hint=_NEW_PLAN)
    _check_owner(Path(inputs.get("config") or "velollm.yaml"))
    return inputs


def _check_owner(config: Path) -> None:
    """The velollm.yaml a saved plan names decides what apply writes, so it must be the user's
    own: not another user's file, not one anybody may edit (a plan pointing at a planted
    /tmp/x/velollm.yaml would otherwise write wherever that file says)."""
    try:
        st = os.stat(config)
    except OSError:
        return  # load_config says what is wrong with it
    owners = {os.geteuid(), 0}
    if os.geteuid() == 0 and os.environ.get("SUDO_UID", "").isdigit():
        owners.add(int(os.environ["SUDO_UID"]))  # `sudo velollm apply` in the user's project
    if st.st_uid not in owners:
        raise ConfigError(f"{config}, the velollm.yaml the saved plan names, belongs to another "
                          "user", hint=f"copy it into your project and {_NEW_PLAN}")
    if st.st_mode & stat.S_IWOTH:
        raise ConfigError(f"{config}, the velollm.yaml the saved plan names, is writable by "
                          "everyone", hint=f"`chmod o-w {config}`, then {_NEW_PLAN}")


def _settings(plan: Plan) -> dict[str, object]:
    return {"env": dict(plan.env), "unset": list(plan.unset),
            "models": {m: dict(p) for m, p in plan.model_params.items()},
            "target": plan.target_kind, "target_path": plan.target_path,
            "backend": plan.backend}


def write_plan(plan: Plan, *, dry_run: bool, force: bool) -> Any:
    from velollm.io.fileops import apply_files

    return apply_files(plan.files, force=force, dry_run=dry_run, retire=plan.retired_files,
                       plan_id=planner.fingerprint_of(plan.to_dict())[:16],
                       fingerprint=planner.fingerprint_of(dict(plan.fingerprint)),
                       settings=_settings(plan))


def run_commands(commands: list[str]) -> list[str]:
    ran: list[str] = []
    for command in commands:
        try:
            done = subprocess.run(shlex.split(command), capture_output=True, text=True,
                                  timeout=FOLLOW_UP_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VelollmError(f"`{command}` could not run: {exc}",
                               hint="run it by hand; the files are already written") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise VelollmError(f"`{command}` failed (exit {done.returncode})"
                               + (f": {detail[-1]}" if detail else ""),
                               hint="run it by hand; the files are already written")
        ran.append(command)
    return ran


def retired_follow_ups(plan: Plan, before: State, result: ApplyResult,
                       backend: Backend) -> list[str]:
    """The commands that make the server forget a server file this apply took back (a systemd
    drop-in of a target no longer used needs daemon-reload and a restart too). `before`: the
    state before the apply, which knows the target each file was written for."""
    gone = {str(p) for p in (*result.removed, *result.restored)}
    commands: list[str] = []
    for record in before.files:
        if (record.path in gone and record.path in plan.retired_files
                and record.target in backend.target_kinds):
            rendered = backend.render(record.target, {}, path=Path(record.path), models={})
            commands += [c for c in rendered[0].follow_up if c not in commands]
    return commands


def follow_ups(plan: Plan, written: set[str], *, restart: bool, create_models: bool,
               server_kinds: Collection[str], retired: Sequence[str] = ()
               ) -> tuple[list[str], list[str], list[str]]:
    """(commands still to run, commands run, warnings) for the files that really changed.

    A file of one of the backend's server targets (`server_kinds`) has the commands that make
    the server read it (--restart runs them); any other file holds per-model parameters, and
    its commands bake them into the models (--create-models runs them). A file's `by_hand`
    command is only ever shown: asked to run it, velollm says why it cannot. `retired`: the
    server commands for the files taken back (retired_follow_ups), run with --restart too."""
    todo: list[str] = list(retired)
    wanted: list[str] = list(todo) if restart else []
    warnings: list[str] = []
    for f in plan.files:
        if str(f.path) not in written:
            continue
        server = f.kind in server_kinds
        run = restart if server else create_models
        for command in f.follow_up:
            if command not in todo:
                todo.append(command)
                if run:
                    wanted.append(command)
        if f.by_hand and f.by_hand not in todo:
            todo.append(f.by_hand)
            if restart and server:
                warnings.append("--restart cannot restart a server started from a shell: stop "
                                f"it and start it with `{f.by_hand}`")
    ran = run_commands(wanted)
    return [c for c in todo if c not in ran], ran, warnings


def outcome(result: Any, plan: Plan | None, verb: str) -> Outcome:
    diffs = [{"path": d.path, "before": d.before, "after": d.after} for d in result.diffs]
    files = [d.path for d in result.diffs]
    if not result.changed:
        from velollm.report.plan import no_changes

        msg = no_changes(plan.backend if plan is not None else "ollama")
    elif result.dry_run:
        msg = f"Would {verb} {len(files)} file(s)."
    else:
        msg = f"{verb.capitalize()} complete: {len(files)} file(s) changed."
    if plan is not None and result.changed and not result.dry_run and plan.files:
        pickup = {f.pickup for f in plan.files if str(f.path) in files and f.pickup}
        msg += "".join(f" {p[0].upper()}{p[1:]}." for p in sorted(pickup))
    kept = [str(k) for k in getattr(result, "kept", ())]
    if kept:
        msg += f" The hand-edited file(s) velollm removed are kept as {', '.join(kept)}."
    removed = [f for f in files if plan is not None and f in plan.retired_files]
    return Outcome(result.changed, diffs, files, msg, removed=removed)
