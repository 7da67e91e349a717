"""Keep each benchmark and verify run (io/runs.py) with what was applied and the hardware.

Best effort by design: the run itself is the command's result, so a run that cannot be stored
(read-only state folder, damaged state.json) is a warning, never a failure of the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from velollm.errors import VelollmError
from velollm.io import runs
from velollm.output import OUT


def keep_run(run_kind: runs.RunKind, document: dict[str, Any],
             directory: Path | None = None) -> Path | None:
    """Store `document` as a run; its path, or None (with a warning) when it could not be."""
    try:
        hardware = document.get("hardware")
        record = runs.wrap(run_kind, document, applied=_applied(directory),
                           hardware=hardware if isinstance(hardware, dict) else detected_hardware())
        path = runs.keep(record, directory)
    except (VelollmError, OSError) as exc:
        OUT.warn(f"this {run_kind} run was not kept for `velollm dashboard` and "
                 f"`velollm report`: {exc}")
        return None
    OUT.debug(f"kept the run in {path}")
    return path


def _applied(directory: Path | None) -> dict[str, Any] | None:
    """What velollm had applied when the run was made: runs are grouped by apply."""
    from velollm.io.state import load_state

    try:
        state = load_state(directory)
    except VelollmError:  # damaged or unreadable: status and apply say so; the run still counts
        return None
    if not state.files:
        return None
    return {"plan_id": state.plan_id, "applied_at": state.applied_at,
            "settings": state.settings}


def detected_hardware() -> dict[str, Any] | None:
    """The hardware document; None when detection is not possible (the run stands without)."""
    try:
        from velollm.io.hardware import detect

        data: dict[str, Any] = detect().to_dict()
    except (ImportError, OSError, VelollmError) as exc:
        OUT.debug(f"hardware detection skipped: {exc}")
        return None
    return data
