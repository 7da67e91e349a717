"""Run the CLI in-process and capture what it printed."""

from __future__ import annotations

import pytest

from velollm.main import main


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
