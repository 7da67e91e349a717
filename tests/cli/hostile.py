"""Helpers for issue 15's hostile-file tests: a byte-exact picture of the disk before and after a
command, and the one assertion every refusal makes (exit 1, one message, no crash log, nothing
written)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.cli.cliutil import cli
from velollm.io.xdg import state_dir

Snapshot = dict[str, tuple[str, bytes | str, int]]


def snapshot(*roots: Path) -> Snapshot:
    """Every entry under `roots` without following links: kind, bytes (or link target), mode."""
    found: Snapshot = {}
    for root in roots:
        for top, dirs, files in os.walk(root, followlinks=False):
            for name in dirs + files:
                path = os.path.join(top, name)
                st = os.lstat(path)
                mode = stat.S_IMODE(st.st_mode)
                if stat.S_ISLNK(st.st_mode):
                    found[path] = ("link", os.readlink(path), mode)
                elif stat.S_ISREG(st.st_mode):
                    found[path] = ("file", Path(path).read_bytes(), mode)
                else:
                    found[path] = ("dir" if stat.S_ISDIR(st.st_mode) else "other", b"", mode)
    return found


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def refused(capsys: pytest.CaptureFixture[str], roots: list[Path], *argv: str) -> str:
    """Run the CLI; assert it refused (exit 1, an error line, no traceback or crash log) and
    wrote nothing under `roots`. Returns stderr."""
    before = snapshot(*roots)
    code, out, err = cli(capsys, *argv)
    assert code == 1, f"exit {code}\n{out}\n{err}"
    assert "error:" in err and "Traceback" not in err + out, err
    assert "this is a bug in velollm" not in err
    assert not (state_dir() / "logs").exists()
    assert changed(before, snapshot(*roots)) == []
    return err
