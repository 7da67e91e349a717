"""Where velollm keeps its own state: $XDG_STATE_HOME/velollm (default ~/.local/state/velollm).

Standard library only: main.py imports it on the crash path, and `velollm --version` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """state.json, backups/, the baseline and logs/ (crash reports) all live under here."""
    # An empty XDG_STATE_HOME counts as unset, as the XDG Base Directory spec says.
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                            "state")
    return Path(base) / "velollm"


def cache_dir() -> Path:
    """What velollm can compute again: $XDG_CACHE_HOME/velollm (default ~/.cache/velollm)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "velollm"
