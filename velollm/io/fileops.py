"""The only module that writes files (issue 5): atomic writes, backups, state.json.

Guarantees, each covered by tests/io/:
- A target is always either fully old or fully new: temp file in the same directory, fsync,
  os.replace, fsync of the directory. Mode and owner of a replaced file are kept (atomic.py).
- A file velollm did not create is never replaced unless force=True; then its original is copied to
  <state dir>/backups/ first (kept beside the state, not beside the file, so systemd and launchd never
  load a backup) and destroy puts it back.
- A file velollm wrote that the plan no longer produces (another target, a removed model) is
  retired with the apply: its original put back, else deleted; one edited since is refused
  without force, and with force its edited copy is kept in <state dir>/backups/.
- One apply/destroy at a time: filelock.file_lock (its lock file is the one file written there).
- Crash order: backups, then state (which already names the new hashes), then the files, then
  the retired files, then state without them. A kill in between shows up as drift, never as a
  forgotten file; the next apply finishes the job.
- Files that lie (issue 15, io/safety.py): no write through a symbolic link or into a FIFO, no
  setuid/setgid/sticky/world-writable mode, no relative path; a recorded file that does not name
  velollm is never deleted or overwritten as velollm's; state dir and backups/ 0700, state.json
  0600, a backup with the original's mode. Checked before the first write.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from velollm.errors import ApplyConflictError, VelollmError, WriteError
from velollm.io.atomic import atomic_write, private_dir, remove_file
from velollm.io.atomic import read_bytes as _read
from velollm.io.filelock import LOCK_TIMEOUT, file_lock
from velollm.io.safety import FileSpec, check_own_dirs, check_spec, check_writable, ours
from velollm.io.state import FileRecord, State, load_state, sha256_bytes, state_path
from velollm.io.xdg import state_dir

# atomic_write and remove_file live in atomic.py; every other writer imports them from here.
__all__ = ["ApplyResult", "FileDiff", "FileSpec", "apply_files", "atomic_write", "remove_file",
           "remove_files", "unified_diff"]


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
    kept: tuple[Path, ...] = ()  # copies of hand-edited files velollm retired (apply --force)


@dataclass(frozen=True)
class _Change:
    path: Path
    before: bytes | None
    after: bytes
    mode: int
    record: FileRecord


@dataclass(frozen=True)
class _Retire:
    """A file velollm wrote and now takes back: the original it replaced is put back, else the
    file is deleted."""

    record: FileRecord
    before: bytes | None  # on disk now
    after: bytes | None  # the original put back; None: deleted

    @property
    def path(self) -> Path:
        return Path(self.record.path)

    @property
    def edited(self) -> bool:
        """Changed since velollm wrote it: deleting it would lose the edits."""
        return self.before is not None and sha256_bytes(self.before) != self.record.sha256


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")


def _compare(files: Sequence[FileSpec], prior: State, force: bool) -> list[_Change]:
    changes, conflicts = [], []
    for spec in files:
        path = check_spec(spec)
        after = spec.content.encode("utf-8")
        before = _read(path)
        rec = prior.record(path)
        if rec is not None and before not in (None, after) and not ours(before):
            rec = None  # state names it, but it is not velollm's file: as any foreign file
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


def _orphans(prior: State, paths: Sequence[Path | str], force: bool) -> list[_Retire]:
    """The recorded files among `paths`, to retire; an edited one needs force."""
    items = _retiring([r for r in (prior.record(p) for p in paths) if r is not None])
    edited = [it.record.path for it in items if it.edited]
    if edited and not force:
        raise ApplyConflictError(
            f"{', '.join(edited)} was changed since velollm wrote it, and velollm.yaml no longer "
            "produces it: removing it would lose those edits",
            hint="move what you need out of it and delete it, or use --force (velollm keeps the "
                 "edited file in its backups folder)", path=edited[0])
    return items


def _retiring(records: Sequence[FileRecord]) -> list[_Retire]:
    """Read what destroy or a retire takes back, refusing before anything is written: a missing
    backup, a symbolic link or special file in a recorded place, a file that is not velollm's."""
    items = []
    for rec in records:
        if rec.backup and not Path(rec.backup).is_file():
            raise WriteError(f"the backup {rec.backup} of {rec.path} is missing",
                             hint="restore it by hand or remove the entry from state.json",
                             path=rec.path)
        item = _Retire(rec, _read(Path(rec.path)), _read(Path(rec.backup)) if rec.backup else None)
        if item.before is not None and not ours(item.before):
            raise ApplyConflictError(
                f"{rec.path} is recorded in velollm's state, but it neither holds what velollm "
                "wrote there nor looks like a file velollm wrote: velollm leaves it alone",
                hint=f"if velollm wrote it, delete it by hand; then take its entry out of "
                     f"{state_path()} (or move that file aside). Nothing was written",
                path=rec.path)
        items.append(item)
    return items


def _retire(items: Sequence[_Retire]) -> tuple[list[Path], list[Path]]:
    """(removed, restored): put back each original velollm replaced, delete the rest."""
    removed, restored = [], []
    for it in items:
        if it.before == it.after:
            continue
        if it.record.backup and it.after is not None:
            # the original's own mode (a 0600 file stays 0600), not that of velollm's version
            atomic_write(it.path, it.after, stat.S_IMODE(os.lstat(it.record.backup).st_mode),
                         keep_mode=False)
            restored.append(it.path)
        elif remove_file(it.path):
            removed.append(it.path)
    return removed, restored


def _forget(state: State, records: Sequence[FileRecord], directory: Path) -> None:
    gone = {r.path for r in records}
    left = tuple(r for r in state.files if r.path not in gone)
    _save(replace(state, files=left) if left else State(), directory)
    for rec in records:  # only after state no longer points at them
        if rec.backup:
            remove_file(Path(rec.backup))


def apply_files(files: Sequence[FileSpec], directory: Path | None = None, *, force: bool = False,
                dry_run: bool = False, plan_id: str = "", fingerprint: str = "",
                settings: dict[str, object] | None = None, lock_timeout: float = LOCK_TIMEOUT,
                now: datetime | None = None, retire: Sequence[Path | str] = ()) -> ApplyResult:
    """Write `files`; idempotent (identical files are not touched, changed is then False).
    `retire`: files velollm wrote earlier that the plan no longer produces (module docstring)."""
    directory = directory or state_dir()
    check_own_dirs(directory)  # before the lock: a refusal writes nothing, not even the lock
    for spec in files:
        check_spec(spec)
    if dry_run:
        prior = load_state(directory)
        return _result(_compare(files, prior, force), _orphans(prior, retire, force), True)
    with file_lock(directory, lock_timeout):
        prior = load_state(directory)
        changes = _compare(files, prior, force)
        orphans = _orphans(prior, retire, force)
        if not changes and not orphans:
            return ApplyResult(changed=False)
        check_writable([c.path for c in changes] + [o.path for o in orphans])
        stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%S%fZ")
        backups = {ch.path: _backup(ch.path, ch.before, directory, stamp) for ch in changes
                   if ch.record.backup is None and not ch.record.created and ch.before is not None}
        kept = tuple(_backup(o.path, o.before, directory, stamp, ".edited") for o in orphans
                     if o.edited)
        changes = [replace(ch, record=replace(ch.record, backup=str(backups[ch.path])))
                   if ch.path in backups else ch for ch in changes]
        intent = State(files=_merge(prior.files, [c.record for c in changes]),
                       settings=dict(settings or {}), plan_id=plan_id, fingerprint=fingerprint,
                       applied_at=stamp)
        _save(intent, directory)
        _write_all(changes, prior, directory)
        removed, restored = _retire(orphans)
        if orphans:
            _forget(intent, [o.record for o in orphans], directory)
        return replace(_result(changes, orphans), backups=tuple(backups.values()), kept=kept,
                       removed=tuple(removed), restored=tuple(restored))


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


def _backup(path: Path, data: bytes | None, directory: Path, stamp: str, suffix: str = "") -> Path:
    """A copy with the original's mode (a 0600 file's copy is not readable by others) in the
    0700 backups directory."""
    private_dir(directory / "backups")
    dest = directory / "backups" / f"{stamp}-{sha256_bytes(str(path).encode())[:8]}-{path.name}{suffix}"
    atomic_write(dest, data or b"", stat.S_IMODE(os.lstat(path).st_mode), keep_mode=False)
    return dest


def _merge(old: tuple[FileRecord, ...], new: list[FileRecord]) -> tuple[FileRecord, ...]:
    paths = {r.path for r in new}
    return tuple(sorted([r for r in old if r.path not in paths] + new, key=lambda r: r.path))


def _result(changes: list[_Change], orphans: Sequence[_Retire] = (),
            dry_run: bool = False) -> ApplyResult:
    real = [c for c in changes if c.before != c.after]
    diffs = tuple(FileDiff(str(c.path), _text(c.before), _text(c.after)) for c in real)
    diffs += _diffs(orphans, forgotten=True)  # one already gone still leaves state: a change
    return ApplyResult(changed=bool(diffs), dry_run=dry_run, diffs=diffs,
                       written=() if dry_run else tuple(c.path for c in real))


def _diffs(items: Sequence[_Retire], forgotten: bool = False) -> tuple[FileDiff, ...]:
    return tuple(FileDiff(it.record.path, _text(it.before), _text(it.after)) for it in items
                 if forgotten or it.before != it.after)


def _save(state: State, directory: Path) -> None:
    atomic_write(state_path(directory), state.to_json().encode("utf-8"), 0o600, keep_mode=False)


def remove_files(directory: Path | None = None, *, paths: Sequence[Path | str] | None = None,
                 dry_run: bool = False, lock_timeout: float = LOCK_TIMEOUT) -> ApplyResult:
    """destroy: delete what velollm created, put back the originals it replaced."""
    directory = directory or state_dir()
    check_own_dirs(directory)
    with contextlib.nullcontext() if dry_run else file_lock(directory, lock_timeout):
        prior = load_state(directory)
        wanted = None if paths is None else {str(p) for p in paths}
        records = [r for r in prior.files if wanted is None or r.path in wanted]
        items = _retiring(records)
        removed, restored = ([], []) if dry_run else _retire(items)
        if not dry_run and records:
            _forget(prior, records, directory)
    diffs = _diffs(items)
    return ApplyResult(changed=bool(diffs), diffs=diffs, removed=tuple(removed),
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
