"""Keep the machine's own servers and services out of the tests (pytest plugin, autouse).

A developer with Ollama running, or a systemd ollama.service installed, must still get a green and
deterministic suite, and tests must never probe unrelated processes. Unless a test is marked
`real_system`:
- a scan of the real /proc lists only the processes this pytest run started (the real servers of
  tests/realserver.py, found through /proc/<pid>/task/<tid>/children, never a scan);
- running the real `systemctl` or `launchctl` fails with PermissionError (velollm treats it like a
  missing tool); fake tools the test put in a temporary directory still run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

GUARDED_TOOLS = frozenset({"systemctl", "launchctl"})
REAL_PROC = Path("/proc")


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from the kernel's children lists (no scan of /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", encoding="ascii") as fh:
                    kids = {int(k) for k in fh.read().split()}
            except (OSError, ValueError):
                continue
            todo.extend(kids - found)
            found |= kids
    return found


def _argv0(args: Any, kwargs: Mapping[str, Any]) -> str | None:
    if kwargs.get("shell"):
        return None
    first = args if isinstance(args, (str, bytes, os.PathLike)) else (list(args) or [None])[0]
    return None if first is None else os.fsdecode(first)


def guarded_tool(args: Any, kwargs: Mapping[str, Any], allowed_root: Path) -> str | None:
    """The real guarded tool this call would run (None: not guarded, or a test's fake)."""
    argv0 = _argv0(args, kwargs)
    if argv0 is None or os.path.basename(argv0) not in GUARDED_TOOLS:
        return None
    env = kwargs.get("env")
    path = env.get("PATH") if isinstance(env, Mapping) else None
    resolved = shutil.which(argv0, path=path)
    if resolved is None:
        return None  # not installed: the call fails on its own
    inside = Path(os.path.realpath(resolved)).is_relative_to(os.path.realpath(allowed_root))
    return None if inside else resolved


@pytest.fixture(autouse=True)
def system_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if request.node.get_closest_marker("real_system"):
        yield
        return
    allowed_root = tmp_path_factory.getbasetemp()
    popen_init = subprocess.Popen.__init__
    iterdir = Path.iterdir

    def init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        real = guarded_tool(args, kwargs, allowed_root)
        if real is not None:
            raise PermissionError(f"tests must not run the real {real} "
                                  "(mark the test real_system if it must)")
        popen_init(self, args, *rest, **kwargs)

    def proc_iterdir(self: Path) -> Iterator[Path]:
        if self != REAL_PROC:
            yield from iterdir(self)
            return
        ours = descendants(os.getpid())
        for entry in iterdir(self):
            if not entry.name.isdigit() or int(entry.name) in ours:
                yield entry

    monkeypatch.setattr(subprocess.Popen, "__init__", init)
    monkeypatch.setattr(Path, "iterdir", proc_iterdir)
    yield
