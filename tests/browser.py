"""A real browser for the pages velollm writes and serves: Debian's `chromium`, headless.

No browser download: .ci/run installs the `chromium` package with apt (as it does zsh and fish),
and the tests drive its own command line (--dump-dom, --screenshot), so no driver is needed.
Tests that need it skip, saying why, only where no chromium is installed.

What a page did is read from the DOM after its scripts ran: velollm's pages record every script
error in <html data-js-errors> and mark each chart they drew, so `--dump-dom` shows both.
Networking is off except loopback: every host but 127.0.0.1 resolves to nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 120


def chromium() -> str:
    found = next((p for p in map(shutil.which, BROWSERS) if p), None)
    if found is None:
        pytest.skip("no chromium installed (.ci/run installs Debian's `chromium` with apt)")
    return found


def _argv(url: str, profile: Path, budget_ms: int, *extra: str) -> list[str]:
    return [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
            "--disable-background-networking", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            f"--virtual-time-budget={budget_ms}", *extra, url]


def _run(url: str, profile: Path, budget_ms: int, *extra: str) -> str:
    # The profile doubles as HOME: chromium writes its caches there, never in a real home.
    done = subprocess.run(_argv(url, profile, budget_ms, *extra), capture_output=True,
                          text=True, timeout=TIMEOUT_S, check=False,
                          env={**os.environ, "HOME": str(profile)})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dump_dom(url: str, tmp_path: Path, *, budget_ms: int = 3000) -> str:
    """The page's DOM after its scripts ran for `budget_ms` of (virtual) time."""
    return _run(url, tmp_path / "chromium-dom", budget_ms, "--dump-dom")


def screenshot(url: str, path: Path, tmp_path: Path, *, size: str = "1200,2000",
               budget_ms: int = 3000) -> Path:
    """A PNG of the page, kept as a test artefact: under $VELOLLM_TEST_ARTIFACTS too, when set."""
    _run(url, tmp_path / "chromium-shot", budget_ms, f"--window-size={size}",
         f"--screenshot={path}")
    assert path.stat().st_size > 10_000, "the screenshot is (nearly) empty"
    keep = os.environ.get("VELOLLM_TEST_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def script_errors(dom: str) -> str:
    """The script errors the page recorded on its <html> element; "" when there were none."""
    found = re.search(r'<html[^>]*\sdata-js-errors="([^"]*)"', dom)
    return found.group(1) if found else ""
