"""state_dir: the one place $XDG_STATE_HOME/velollm is computed (state, backups, crash logs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from velollm import main
from velollm.io.xdg import state_dir


def test_empty_xdg_state_home_counts_as_unset(isolated_home: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "")
    assert state_dir() == isolated_home / ".local/state/velollm"


def test_crash_logs_live_under_the_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "/elsewhere")
    assert main.crash_log_dir() == Path("/elsewhere/velollm/logs")
