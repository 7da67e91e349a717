"""What systemd does with any unit: where it looks for the unit file and its drop-ins, whether a
process runs inside the unit, and how Environment= lines read. No service is named here; callers
pass their own unit name ("x.service").

The search path is systemd's for system units, highest priority first (systemd.unit(5)): /etc
overrides /run, which overrides the vendor directories.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path

UNIT_DIRS: tuple[Path, ...] = (Path("/etc/systemd/system"), Path("/run/systemd/system"),
                               Path("/usr/local/lib/systemd/system"),
                               Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
ADMIN_DIR = UNIT_DIRS[0]  # where an administrator (and velollm) puts units and drop-ins
HOST_ROOT = Path("/")


def _on_disk(path: Path, root: Path) -> Path:
    # `root` lets tests put a fake machine under a temp directory; paths returned stay host paths.
    return root / str(path).lstrip("/")


def dropin_dir(unit: str, directory: Path = ADMIN_DIR) -> Path:
    """<directory>/<unit>.d, where the *.conf drop-ins of `unit` go."""
    return directory / f"{unit}.d"


def unit_file(unit: str, dirs: Iterable[Path] = UNIT_DIRS, root: Path = HOST_ROOT) -> Path | None:
    """The file systemd loads `unit` from: the first directory of the search path that has it.

    A unit masked with a link to /dev/null is not a file, so it counts as absent.
    """
    return next((d / unit for d in dirs if _on_disk(d / unit, root).is_file()), None)


def unit_exists(unit: str, dirs: Iterable[Path] = UNIT_DIRS, root: Path = HOST_ROOT) -> bool:
    return unit_file(unit, dirs, root) is not None


def dropins(unit: str, dirs: Iterable[Path] = UNIT_DIRS, root: Path = HOST_ROOT) -> list[Path]:
    """The unit's *.conf drop-ins in the order systemd applies them (a later one wins).

    systemd sorts them by file name across all directories; a drop-in in a higher-priority
    directory hides one of the same name in a lower one (that is how /etc overrides a vendor's).
    """
    chosen: dict[str, Path] = {}
    for directory in dirs:
        where = dropin_dir(unit, directory)
        found = _on_disk(where, root)
        if not found.is_dir():
            continue
        for entry in found.iterdir():
            if entry.suffix == ".conf" and entry.is_file():
                chosen.setdefault(entry.name, where / entry.name)
    return [chosen[name] for name in sorted(chosen)]


def in_unit_cgroup(pid: int, unit: str, proc: Path = Path("/proc")) -> bool:
    """Does process `pid` run inside `unit`? Its cgroup path (v1 or v2) names the unit then.

    False when /proc/<pid>/cgroup cannot be read (gone, or not Linux).
    """
    try:
        text = (proc / str(pid) / "cgroup").read_text()
    except OSError:
        return False
    # Lines are ID:CONTROLLERS:PATH, e.g. 0::/system.slice/x.service; match whole components.
    return any(unit in line.split(":", 2)[-1].split("/") for line in text.splitlines())


def parse_environment(text: str) -> dict[str, str]:
    """Values of Environment= lines (drop-in files) or `systemctl show -p Environment` output.

    systemd splits on whitespace honouring double and single quotes and backslash escapes, which
    shlex in POSIX mode matches for the forms unit files use (Environment="K=V" K2=V2).
    """
    env: dict[str, str] = {}
    for line in text.split("\n"):  # not splitlines(): U+2028 and friends are part of a value
        line = line.strip(" \t\r")
        if not line.startswith("Environment="):
            continue
        try:
            words = shlex.split(line[len("Environment="):], comments=False, posix=True)
        except ValueError:
            continue
        for word in words:
            key, sep, value = word.partition("=")
            if sep:
                env[key] = value.replace("%%", "%")  # systemd's escape for a literal %
    return env
