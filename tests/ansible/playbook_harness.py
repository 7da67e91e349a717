"""Run the shipped example playbook with real ansible-playbook over a simulated, all-local fleet.

Every Ansible file (local/remote tmp, ANSIBLE_HOME) and every host's HOME/XDG tree live under the
test's temporary directory; the per-host HOME reaches velollm through the role's `velollm_env`.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
EXAMPLES = ANSIBLE_DIR / "examples"
SITE = EXAMPLES / "site.yml"
DATA = Path(__file__).resolve().parent / "data"
HARDWARE = DATA / "hardware"

RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
                   r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)", re.MULTILINE)


def velollm_executable(tmp: Path) -> str:
    """A wrapper that runs this checkout's velollm (not whatever `velollm` is first in PATH)."""
    wrapper = tmp / "bin" / "velollm"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}${{PYTHONPATH:+:$PYTHONPATH}}" '
                       f'exec "{sys.executable}" -m velollm "$@"\n', encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def fake_executable(tmp: Path) -> str:
    script = tmp / "bin" / "fake-velollm"
    script.parent.mkdir(parents=True, exist_ok=True)
    source = (DATA / "fake_velollm.py").read_text(encoding="utf-8")
    script.write_text(f"#!{sys.executable}\n{source}", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@dataclass(frozen=True)
class SimHost:
    name: str
    home: Path
    hardware_file: Path
    extra_vars: dict[str, Any] = field(default_factory=dict)

    @property
    def shell_file(self) -> Path:
        return self.home / ".config" / "velollm" / "ollama.env.sh"

    def env(self) -> dict[str, str]:
        return {"HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.home / ".config"),
                "XDG_STATE_HOME": str(self.home / ".local" / "state"),
                "XDG_CACHE_HOME": str(self.home / ".cache"),
                "XDG_DATA_HOME": str(self.home / ".local" / "share")}


def make_host(tmp: Path, name: str, hardware: str, **extra_vars: Any) -> SimHost:
    home = tmp / "hosts" / name
    home.mkdir(parents=True)
    return SimHost(name, home, HARDWARE / f"{hardware}.json", extra_vars)


def write_inventory(tmp: Path, hosts: list[SimHost], executable: str) -> Path:
    entries = {}
    for host in hosts:
        entries[host.name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "velollm_target": "shell",
            "velollm_path": str(host.shell_file),
            "velollm_hardware_file": str(host.hardware_file),
            "velollm_executable": executable,
            "velollm_env": host.env(),
            **host.extra_vars,
        }
    path = tmp / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": entries}}, sort_keys=True), encoding="utf-8")
    return path


def ansible_env(tmp: Path) -> dict[str, str]:
    # Nothing of the caller's Ollama, velollm, XDG or Ansible settings leaks into the run.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OLLAMA_", "VELOLLM_", "XDG_", "ANSIBLE_"))}
    env.update({
        # The controller's own HOME too: module-scoped fixtures run before the per-test HOME.
        "HOME": str(tmp / "controller-home"),
        "ANSIBLE_CONFIG": str(EXAMPLES / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(ANSIBLE_DIR),
        "ANSIBLE_HOME": str(tmp / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp / "ansible-remote"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORKS": "16",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    return env


@dataclass(frozen=True)
class PlaybookRun:
    rc: int
    output: str
    recap: dict[str, dict[str, int]]

    def changed_hosts(self) -> set[str]:
        return {h for h, counts in self.recap.items() if counts["changed"]}

    def failed_hosts(self) -> set[str]:
        return {h for h, c in self.recap.items() if c["failed"] or c["unreachable"]}

    def host_lines(self, host: str) -> list[str]:
        return [line for line in self.output.splitlines() if f"[{host}]" in line]


def run_playbook(tmp: Path, inventory: Path, *options: str,
                 playbook: Path = SITE) -> PlaybookRun:
    (tmp / "controller-home").mkdir(exist_ok=True)
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook), *options],
        cwd=tmp, env=ansible_env(tmp), capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    recap = {m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
             for m in RECAP.finditer(proc.stdout)}
    return PlaybookRun(proc.returncode, output, recap)


def source_shell_file(path: Path) -> dict[str, str]:
    """The OLLAMA_* variables a real bash gets from sourcing the rendered file."""
    proc = subprocess.run(["bash", "-c", 'set -e; . "$1"; env -0', "bash", str(path)],
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                          capture_output=True, text=True, timeout=30, check=True)
    pairs = (item.partition("=") for item in proc.stdout.split("\0") if item)
    return {k: v for k, _, v in pairs if k.startswith("OLLAMA_")}


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())
