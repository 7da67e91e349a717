"""Read rendered environment files back through the real parsers: bash, zsh, sh, fish,
systemd-analyze and plistlib plus /bin/sh (what launchd runs). Shared by the round-trip tests of
every backend whose targets write environment variables.

Each reader takes the rendered text (many variables at once, so one subprocess checks a whole
batch of values) and returns what the parser made of every variable, or None when the parser is
not installed. Values come back as the exact bytes the parser handed on (decoded as UTF-8 with
surrogateescape, so a corruption shows as a difference, never as a crash of the test).
"""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Prints the environment as hex bytes, so no locale or terminal can alter what we compare.
DUMP = ("import json,os,sys; sys.stdout.write(json.dumps("
        "{k.decode(): v.hex() for k, v in os.environb.items()}))")
SHELL_FLAGS = {"bash": ["--norc", "--noprofile"], "zsh": ["-f"], "sh": []}
_UNIT = "[Unit]\nDescription=round trip\n[Service]\nExecStart=/bin/true\n"


class ParserFailed(AssertionError):
    """The parser refused the file (syntax error, exit status != 0): never a valid render."""


def _decode(env: dict[str, str]) -> dict[str, str]:
    return {k: bytes.fromhex(v).decode("utf-8", "surrogateescape") for k, v in env.items()}


def _run(argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, env=env or {"HOME": str(workdir), "PATH": "/usr/bin:/bin"},
                          cwd=workdir, capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise ParserFailed(f"{argv[0]} exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return proc.stdout.decode("utf-8", "surrogateescape")


def posix_shell(shell: str, text: str, workdir: Path) -> dict[str, str] | None:
    """What `. file && exec python` hands on, in bash, zsh or sh."""
    exe = shutil.which(shell)
    if exe is None:
        return None
    path = workdir / "env.sh"
    path.write_text(text, encoding="utf-8")
    _run([exe, *SHELL_FLAGS[shell], "-n", str(path)], workdir)
    out = _run([exe, *SHELL_FLAGS[shell], "-c", '. "$1" && exec "$2" -c "$3"', shell, str(path),
                sys.executable, DUMP], workdir)
    return _decode(json.loads(out))


def fish(text: str, workdir: Path) -> dict[str, str] | None:
    exe = shutil.which("fish")
    if exe is None:
        return None
    path = workdir / "env.fish"
    path.write_text(text, encoding="utf-8")
    _run([exe, "--no-config", "--no-execute", str(path)], workdir)
    out = _run([exe, "--no-config", "-c", "source $argv[1]; and exec $argv[2] -c $argv[3]",
                str(path), sys.executable, DUMP], workdir)
    return _decode(json.loads(out))


def systemd(text: str, workdir: Path) -> dict[str, str] | None:
    """Environment= of the unit as systemd parsed it from the drop-in (`text`); a line systemd
    ignored ("Invalid syntax", "not UTF-8 clean", "Line too long") fails the read."""
    exe = shutil.which("systemd-analyze")
    if exe is None:
        return None
    unit = workdir / "units" / "ollama.service"
    dropin = unit.parent / "ollama.service.d" / "velollm.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(_UNIT)
    dropin.write_text(text, encoding="utf-8")
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "debug", "SYSTEMD_LOG_COLOR": "0"}
    proc = subprocess.run([exe, "verify", "--man=no", str(unit)], capture_output=True, env=env,
                          timeout=120, check=False)
    out = (proc.stdout + proc.stderr).decode("utf-8", "surrogateescape")
    complaints = re.findall(r"^.*velollm\.conf(?::\d+)?: .*$", out, re.MULTILINE)
    if proc.returncode != 0 or complaints:
        raise ParserFailed("\n".join(complaints) or out[-2000:])
    if "DropIn Path:" not in out:
        return None  # this systemd-analyze does not dump the parsed unit at debug level
    return dict(m.split("=", 1) for m in re.findall(r"^\s*Environment: (.*)$", out, re.MULTILINE))


def launchd(text: str, workdir: Path) -> dict[str, str]:
    """plistlib reads the LaunchAgent; /bin/sh runs its script with launchctl swapped for a
    recorder of every `setenv NAME VALUE` call."""
    plist = plistlib.loads(text.encode("utf-8"))
    sh, dash_c, script = plist["ProgramArguments"]
    assert (sh, dash_c) == ("/bin/sh", "-c")
    record = workdir / "launchctl.calls"
    fake = workdir / "launchctl"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" >> '{record}'\nprintf '\\1' >> '{record}'\n")
    fake.chmod(0o755)
    _run(["/bin/sh", "-c", script.replace("/bin/launchctl ", f"{fake} ")], workdir)
    got: dict[str, str] = {}
    for call in (record.read_bytes() if record.exists() else b"").split(b"\1")[:-1]:
        argv = [a.decode("utf-8", "surrogateescape") for a in call.split(b"\0")[:-1]]
        assert argv[0] == "setenv" and len(argv) == 3, argv
        got[argv[1]] = argv[2]
    return got
