"""Shared fixtures. Tests never touch the real HOME, /etc or a running service (system_guard.py
keeps the real /proc scan, systemctl and launchctl out of them); the one exception is the
real-server runtime cache, ${XDG_CACHE_HOME:-~/.cache}/velollm-tests (tests/realserver.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from velollm import output

pytest_plugins = ["tests.realserver", "tests.realllama", "tests.system_guard"]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh HOME and XDG tree per test; the real ones are never read or written."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_STATE_HOME", ".local/state"),
                     ("XDG_CACHE_HOME", ".cache"), ("XDG_DATA_HOME", ".local/share")):
        monkeypatch.setenv(var, str(home / sub))
    # Reports wrap prose to the terminal; content assertions should not depend on its width
    # (tests of the wrapping set COLUMNS themselves, e.g. test_report_width.py).
    monkeypatch.setenv("COLUMNS", "400")
    for var in ("OLLAMA_HOST", "NO_COLOR", "VELOLLM_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    yield home
    output.configure(color="auto", verbosity=0, json_mode=False)
