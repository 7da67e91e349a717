"""Every benchmark and verify run velollm made: <state dir>/runs/, one JSON file per run.

The dashboard's Gains charts and `velollm report` read them back. A stored run wraps the command's
own document (the benchmark document of schemas/benchmark.schema.json, or verify's --json) with
what is needed to compare runs later: when it was saved, what velollm had applied then, and the
hardware. Files are private to the user (0600 in a 0700 folder: they name models, hosts and
settings) and written atomically; the oldest are deleted beyond `KEEP` runs.

    {"format_version": 1, "kind": "velollm.run", "run_kind": "benchmark" | "verify",
     "saved_at": ISO-8601 UTC, "velollm_version": str, "applied": {plan_id, applied_at,
     settings} | null, "hardware": {...} | null, "document": {...}}
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from velollm import __version__
from velollm.errors import VelollmError
from velollm.io.atomic import atomic_write, remove_file
from velollm.io.xdg import state_dir

RUN_FORMAT = 1
RUN_KIND = "velollm.run"
KEEP = 200  # about a year of a daily benchmark; each run is some tens of kB
RunKind = Literal["benchmark", "verify"]
_NAME = re.compile(r"\d{8}T\d{6}\d{6}Z-(benchmark|verify)\.json\Z")


class RunFileError(VelollmError):
    """A file given as a run cannot be read or is not a velollm run."""


@dataclass(frozen=True)
class StoredRun:
    path: Path
    record: dict[str, Any]  # the wrapper above; `document` is the command's own

    @property
    def run_kind(self) -> str:
        return str(self.record.get("run_kind", ""))

    @property
    def document(self) -> dict[str, Any]:
        doc = self.record.get("document")
        return doc if isinstance(doc, dict) else {}


def runs_dir(directory: Path | None = None) -> Path:
    return (directory or state_dir()) / "runs"


def wrap(run_kind: RunKind, document: dict[str, Any], *, applied: dict[str, Any] | None,
         hardware: dict[str, Any] | None, now: datetime | None = None) -> dict[str, Any]:
    saved = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    return {"format_version": RUN_FORMAT, "kind": RUN_KIND, "run_kind": run_kind,
            "saved_at": saved, "velollm_version": __version__, "applied": applied,
            "hardware": hardware, "document": document}


def keep(record: dict[str, Any], directory: Path | None = None, *, limit: int = KEEP,
         now: datetime | None = None) -> Path:
    """Store one wrapped run; then delete the oldest beyond `limit`. Returns its path."""
    folder = runs_dir(directory)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # also when an older velollm (or umask) made it wider
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-{record['run_kind']}.json"
    atomic_write(path, (json.dumps(record, indent=1) + "\n").encode("utf-8"), 0o600)
    for old in _names(folder)[:-limit] if limit > 0 else []:
        remove_file(folder / old)
    return path


def _names(folder: Path) -> list[str]:
    """The stored runs' file names, oldest first (their names sort by time)."""
    try:
        return sorted(n for n in os.listdir(folder) if _NAME.match(n))
    except FileNotFoundError:
        return []


def stored(directory: Path | None = None, *, last: int | None = None) -> list[StoredRun]:
    """The stored runs, oldest first; a damaged file is skipped (the others still count)."""
    folder = runs_dir(directory)
    names = _names(folder)
    out = []
    for name in names[-last:] if last else names:
        try:
            out.append(StoredRun(folder / name, load_record(folder / name)))
        except RunFileError:
            continue
    return out


def load_record(path: Path) -> dict[str, Any]:
    """A stored run, or a bare benchmark/verify document wrapped as one (`velollm benchmark
    --out`, `verify --json > FILE`); RunFileError names the file and what is wrong with it."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such file", path=str(path),
                           hint="give files written by `velollm benchmark --out FILE`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFileError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}",
                           path=str(path), hint="check the file's permissions") from None
    except ValueError as exc:
        raise RunFileError(f"{path} is not JSON ({exc})", path=str(path),
                           hint="give files written by `velollm benchmark --out FILE`") from None
    if isinstance(doc, dict) and doc.get("kind") == RUN_KIND:
        if not isinstance(doc.get("document"), dict) or doc.get("run_kind") not in (
                "benchmark", "verify"):
            raise RunFileError(f"{path} is a damaged velollm run (no document)", path=str(path),
                               hint="delete it; velollm stores a new one with each run")
        return doc
    kind = document_kind(doc)
    if kind is None:
        raise RunFileError(
            f"{path} is not a velollm benchmark or verify result", path=str(path),
            hint="give files written by `velollm benchmark --out FILE` or `velollm verify "
                 "--json`, or the runs velollm keeps in " + str(runs_dir()))
    hardware = doc.get("hardware") if isinstance(doc.get("hardware"), dict) else None
    return {**wrap(kind, doc, applied=None, hardware=hardware), "saved_at": None}


def document_kind(doc: object) -> RunKind | None:
    """What a bare document is, by the fields each command always writes."""
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("model"), str) and isinstance(doc.get("benchmarks"), list) and \
            isinstance(doc.get("suite"), dict):
        return "benchmark"
    if isinstance(doc.get("settings"), list) and isinstance(doc.get("benchmark"), dict) and \
            isinstance(doc.get("server"), dict):
        return "verify"
    return None
