"""Run the CLI in-process and capture what it printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from velollm.main import main


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def files_under(*roots: Path) -> dict[str, bytes]:
    """Every file below `roots` with its content: what a refused command must leave unchanged."""
    return {str(p): p.read_bytes() for root in roots if root.exists()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def refused(capsys: pytest.CaptureFixture[str], watched: tuple[Path, ...], *argv: str) -> str:
    """Run `velollm argv`, which must refuse its input: exit 1, an `error:` line, no traceback and
    no crash log, and no file written or changed under `watched` (HOME, the work dir). Returns
    stderr (and, in --json mode, stdout after it)."""
    before = files_under(*watched)
    code, out, err = cli(capsys, *argv)
    assert code == 1, (code, out, err)
    assert "Traceback" not in out + err and "this is a bug in velollm" not in err, err
    assert "error:" in err, err
    assert files_under(*watched) == before, "a refused command wrote a file"
    return err + out
