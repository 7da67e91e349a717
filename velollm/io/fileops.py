"""The only module that writes files (issue 5): atomic writes, backups, state.json.

Guarantees, each covered by tests/io/:
- A target is always either fully old or fully new: temp file in the same directory, fsync,
  os.replace, fsync of the directory. Mode and owner of a replaced file are kept (atomic.py).
- A file velollm did not create is never replaced unless force=True; then its original is copied to
  <state dir>/backups/ first (kept beside the state, not beside the file, so systemd and launchd never
  load a backup) and destroy puts it back.
- One apply/destroy at a time: filelock.file_lock (its lock file is the one file written there).
- Crash order: backups, then state (which already names the new hashes), then the files. A kill in
  between shows up as drift, never as a forgotten file; the next apply finishes the job.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from velollm.errors import ApplyConflictError, VelollmError, WriteError, write_error
from velollm.io.atomic import atomic_write, remove_file
from velollm.io.atomic import read_bytes as _read
from velollm.io.filelock import LOCK_TIMEOUT, file_lock
from velollm.io.state import FileRecord, State, load_state, sha256_bytes, state_path
from velollm.io.xdg import state_dir

# atomic_write and remove_file live in atomic.py; every other writer imports them from here.
__all__ = ["ApplyResult", "FileDiff", "FileSpec", "apply_files", "atomic_write", "remove_file",
           "remove_files", "unified_diff"]

class FileSpec(Protocol):
    """What apply_files needs of a file to write (core.files.RenderedFile fits)."""

    @property
    def path(self) -> Path: ...
    @property
    def content(self) -> str: ...
    @property
    def mode(self) -> int: ...
    @property
    def kind(self) -> str: ...  # the target that rendered it, kept in state.json as `target`


@dataclass(frozen=True)
class FileDiff:
    path: str
    before: str | None  # None: the file does not exist (before a create / after a delete)
    after: str | None


@dataclass(frozen=True)
class ApplyResult:
    changed: bool
    diffs: tuple[FileDiff, ...] = ()
    written: tuple[Path, ...] = ()
    backups: tuple[Path, ...] = ()
    removed: tuple[Path, ...] = ()
    restored: tuple[Path, ...] = ()
    dry_run: bool = False


@dataclass(frozen=True)
class _Change:
    path: Path
    before: bytes | None
    after: bytes
    mode: int
    record: FileRecord


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")


def _compare(files: Sequence[FileSpec], prior: State, force: bool) -> list[_Change]:
    changes, conflicts = [], []
    for spec in files:
        path = Path(spec.path)
        after = spec.content.encode("utf-8")
        before = _read(path)
        rec = prior.record(path)
        if before == after and (rec is None or rec.sha256 == sha256_bytes(after)):
            continue  # identical (and recorded, or not ours to adopt): nothing to do
        if rec is None and before is not None and not force:
            conflicts.append(str(path))
        target = spec.kind
        new = rec or FileRecord(str(path), "", target, created=before is None)
        changes.append(_Change(path, before, after, spec.mode,
                               replace(new, sha256=sha256_bytes(after), target=target or new.target)))
    if conflicts:
        raise ApplyConflictError(
            f"velollm did not create {', '.join(conflicts)} and will not overwrite it",
            hint="move the file away, choose another --path, or use --force "
                 "(the original is backed up and destroy restores it)", path=conflicts[0])
    return changes


def _check_writable(changes: Sequence[_Change]) -> None:
    """Fail before the first write when a later one would be refused (nothing half-applied)."""
    for ch in changes:
        probe = ch.path.parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent  # the directory that mkdir will have to write into
        if os.statvfs(probe).f_flag & os.ST_RDONLY:
            raise write_error(OSError(errno.EROFS, "Read-only file system"), ch.path)
        if not os.access(probe, os.W_OK | os.X_OK):
            raise write_error(OSError(errno.EACCES, "Permission denied"), ch.path)


def apply_files(files: Sequence[FileSpec], directory: Path | None = None, *, force: bool = False,
                dry_run: bool = False, plan_id: str = "", fingerprint: str = "",
                settings: dict[str, object] | None = None, lock_timeout: float = LOCK_TIMEOUT,
                now: datetime | None = None) -> ApplyResult:
    """Write `files`; idempotent (identical files are not touched, changed is then False)."""
    directory = directory or state_dir()
    if dry_run:
        return _result(_compare(files, load_state(directory), force), dry_run=True)
    with file_lock(directory, lock_timeout):
        prior = load_state(directory)
        changes = _compare(files, prior, force)
        if not changes:
            return ApplyResult(changed=False)
        _check_writable(changes)
        stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
        backups = {ch.path: _backup(ch, directory, stamp) for ch in changes
                   if ch.record.backup is None and not ch.record.created and ch.before is not None}
        changes = [replace(ch, record=replace(ch.record, backup=str(backups[ch.path])))
                   if ch.path in backups else ch for ch in changes]
        intent = State(files=_merge(prior.files, [c.record for c in changes]),
                       settings=dict(settings or {}), plan_id=plan_id, fingerprint=fingerprint,
                       applied_at=stamp)
        _save(intent, directory)
        _write_all(changes, prior, directory)
        return replace(_result(changes), backups=tuple(backups.values()))


def _write_all(changes: list[_Change], prior: State, directory: Path) -> None:
    done: set[str] = set()
    try:
        for ch in changes:
            if ch.before != ch.after:  # identical bytes: only the record was out of date
                atomic_write(ch.path, ch.after, ch.mode)
            done.add(str(ch.path))
    except VelollmError:
        # The apply failed: keep records of what was written, the prior ones for the rest, and
        # the prior plan, so drift and destroy describe exactly what is on disk.
        written = [c.record for c in changes if str(c.path) in done]
        _save(replace(prior, files=_merge(prior.files, written)), directory)
        raise


def _backup(ch: _Change, directory: Path, stamp: str) -> Path:
    dest = directory / "backups" / f"{stamp}-{sha256_bytes(str(ch.path).encode())[:8]}-{ch.path.name}"
    atomic_write(dest, ch.before or b"", stat.S_IMODE(os.stat(ch.path).st_mode))
    return dest


def _merge(old: tuple[FileRecord, ...], new: list[FileRecord]) -> tuple[FileRecord, ...]:
    paths = {r.path for r in new}
    return tuple(sorted([r for r in old if r.path not in paths] + new, key=lambda r: r.path))


def _result(changes: list[_Change], dry_run: bool = False) -> ApplyResult:
    real = [c for c in changes if c.before != c.after]
    return ApplyResult(changed=bool(real), dry_run=dry_run,
                       diffs=tuple(FileDiff(str(c.path), _text(c.before), _text(c.after))
                                   for c in real),
                       written=() if dry_run else tuple(c.path for c in real))


def _save(state: State, directory: Path) -> None:
    atomic_write(state_path(directory), state.to_json().encode("utf-8"), 0o644)


def remove_files(directory: Path | None = None, *, paths: Sequence[Path | str] | None = None,
                 dry_run: bool = False, lock_timeout: float = LOCK_TIMEOUT) -> ApplyResult:
    """destroy: delete what velollm created, put back the originals it replaced."""
    directory = directory or state_dir()
    with contextlib.nullcontext() if dry_run else file_lock(directory, lock_timeout):
        prior = load_state(directory)
        wanted = None if paths is None else {str(p) for p in paths}
        records = [r for r in prior.files if wanted is None or r.path in wanted]
        for rec in records:
            if rec.backup and not Path(rec.backup).is_file():
                raise WriteError(f"the backup {rec.backup} of {rec.path} is missing",
                                 hint="restore it by hand or remove the entry from state.json",
                                 path=rec.path)
        diffs, removed, restored = [], [], []
        for rec in records:
            path = Path(rec.path)
            before = _read(path)
            after = _read(Path(rec.backup)) if rec.backup else None
            if before == after:
                continue
            diffs.append(FileDiff(rec.path, _text(before), _text(after)))
            if dry_run:
                continue
            if rec.backup and after is not None:
                atomic_write(path, after, stat.S_IMODE(os.stat(rec.backup).st_mode))
                restored.append(path)
            elif remove_file(path):
                removed.append(path)
        if not dry_run and records:
            left = tuple(r for r in prior.files if r not in records)
            _save(replace(prior, files=left) if left else State(), directory)
            for rec in records:  # only after state no longer points at them
                if rec.backup:
                    remove_file(Path(rec.backup))
    return ApplyResult(changed=bool(diffs), diffs=tuple(diffs), removed=tuple(removed),
                       restored=tuple(restored), dry_run=dry_run)


def unified_diff(path: str | Path, before: str | None, after: str | None) -> str:
    """`diff -u` text for one file; /dev/null stands for a missing side."""
    old = (before or "").splitlines(keepends=True)
    new = (after or "").splitlines(keepends=True)
    name = str(path).lstrip("/")  # git's style for absolute paths: a/etc/x
    lines = difflib.unified_diff(old, new, fromfile=f"a/{name}" if before is not None else "/dev/null",
                                 tofile=f"b/{name}" if after is not None else "/dev/null")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)
