"""The llama.cpp install: where llama-server and llama-bench are, which build they are, and
whether a systemd unit runs llama-server.

`--version` prints "version: 0.7.0 (build 11669, commit Debian)" in Debian's build and
"version: 11669 (abc1234)" upstream, on stderr; it is asked with a deadline, because a binary
that hangs (a broken GPU driver) must not hang `velollm plan`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from velollm.backends.llamacpp.knobs import parse_build
from velollm.io import systemd
from velollm.io.hardware.runner import run_tool

SYSTEMD_UNIT = "llama-server.service"
TOOLS = ("llama-server", "llama-bench")
VERSION_DEADLINE_S = 5.0


@dataclass(frozen=True)
class Binary:
    name: str  # llama-server
    path: str | None  # None: not found
    build: str | None  # "b11669"; None: not found or not readable
    detail: str  # what happened, for notes


def find_tool(name: str, configured: str | None = None) -> str | None:
    """`configured` (server.binary: a path to llama-server; its siblings for the other tools),
    else PATH. "auto" or None: PATH."""
    if configured and configured != "auto":
        path = Path(os.path.expanduser(configured))
        candidate = path if name == "llama-server" else path.with_name(name)
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    return shutil.which(name)


def read_build(path: str, deadline: float = VERSION_DEADLINE_S) -> tuple[str | None, str]:
    """("b11669", detail) from `<path> --version`; (None, why) when it fails or hangs."""
    result = run_tool([path, "--version"], timeout=deadline, which=lambda p: p)
    text = f"{result.stdout}\n{result.stderr}"
    try:
        return f"b{parse_build(text)}", f"{path}: build {parse_build(text)}"
    except ValueError:
        return None, (result.detail or f"{path} --version printed no build number")


def probe(name: str = "llama-server", configured: str | None = None,
          deadline: float = VERSION_DEADLINE_S) -> Binary:
    path = find_tool(name, configured)
    if path is None:
        where = f"at {configured}" if configured and configured != "auto" else "on PATH"
        return Binary(name, None, None, f"{name} not found {where}")
    build, detail = read_build(path, deadline)
    return Binary(name, path, build, detail)


def managed_by(root: Path = systemd.HOST_ROOT) -> str:
    """systemd when a llama-server.service unit exists, else none (llama.cpp has no app)."""
    return "systemd" if systemd.unit_exists(SYSTEMD_UNIT, root=root) else "none"
