"""Is a saved plan what velollm would write? (issue 15: a plan file is data, not a program)

apply derives the plan again from the saved plan's inputs and the live facts, and compares what
it acts on. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from velollm.core.planner import Plan


def _acting(plan: Plan) -> dict[str, Any]:
    """What apply acts on: the files it writes (path, bytes, mode, follow-up commands), the
    files it takes back, and the settings it records. Warnings and notes are only shown."""
    return {"target": (plan.backend, plan.target_kind, plan.target_path),
            "settings": (dict(plan.env), tuple(plan.unset),
                         {m: dict(p) for m, p in plan.model_params.items()}),
            # repr: a damaged plan's values need not be text, and must not break the sort
            "retired": sorted(repr(k) for k in plan.retired_files),
            "changes": sorted(repr((c.action, c.scope, c.key, c.before, c.after))
                              for c in plan.changes)}


def tampered(saved: Plan, fresh: Plan) -> list[str]:
    """How a saved plan differs from the plan velollm derives now from the same inputs (issue
    15: a plan file is data, never a program). Empty: it is exactly what velollm would write."""
    found: list[str] = []
    ours = {str(f.path): f for f in fresh.files}
    theirs = {str(f.path): f for f in saved.files}
    found += [f"it writes {p}, which velollm.yaml does not produce" for p in theirs
              if p not in ours]
    found += [f"it leaves out {p}" for p in ours if p not in theirs]
    for path, mine in ours.items():
        other = theirs.get(path)
        if other is None:
            continue
        if other.content != mine.content:
            found.append(f"the content of {path} differs")
        if other.mode != mine.mode:
            found.append(f"the mode of {path} is {_octal(other.mode)}, not {_octal(mine.mode)}")
        if (other.follow_up, other.by_hand) != (mine.follow_up, mine.by_hand):
            found.append(f"the commands that make the server read {path} differ")
        if (other.kind, other.pickup) != (mine.kind, mine.pickup):
            found.append(f"the target of {path} differs")
    if len(saved.files) != len(theirs):
        found.append("it names a file twice")
    a, b = _acting(saved), _acting(fresh)
    labels = {"target": "its target", "settings": "its settings",
              "retired": "the files it takes back", "changes": "the changes it lists"}
    found += [f"{labels[k]} differ" + ("s" if k == "target" else "")
              for k in a if a[k] != b[k]]
    # a pending restart's command is shown by plan only, but it is a command all the same
    restart = {f.by_hand or " && ".join(f.follow_up) for f in fresh.files[:1]}
    if any(p.get("restart") not in restart for p in saved.pending):
        found.append("the restart command it shows differs")
    return found


def _octal(mode: object) -> str:
    return f"{mode:o}" if isinstance(mode, int) else repr(mode)
