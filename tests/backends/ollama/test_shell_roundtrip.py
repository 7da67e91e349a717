"""The shell and fish files, sourced by the real shells, give back every value byte for byte and
unset what velollm no longer sets, even when the shell inherited it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backends.ollama.nasty import NASTY
from velollm.backends.ollama.targets import render_target
from velollm.errors import ConfigError

# Prints the environment as hex bytes, so no locale or terminal can alter what we compare.
DUMP = ("import json,os,sys; sys.stdout.write(json.dumps("
        "{k.decode(): v.hex() for k, v in os.environb.items()}))")


# Settings velollm set before and no longer wants: the file unsets them. The first is in the
# environment the shell inherits (as from a shell that sourced the earlier file), the second not.
GONE = ("OLLAMA_GONE_INHERITED", "OLLAMA_GONE_NEVER_SET")
INHERITED = {"OLLAMA_GONE_INHERITED": "64"}


def _run_clean(argv: list[str], home: Path,
               inherited: dict[str, str] | None = None) -> dict[str, bytes]:
    """env -i style: only HOME and PATH (and `inherited`), a scratch HOME, run in that HOME."""
    proc = subprocess.run(argv, env={"HOME": str(home), "PATH": "/usr/bin:/bin",
                                     **(inherited or {})}, cwd=home,
                          capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return {k: bytes.fromhex(v) for k, v in json.loads(proc.stdout).items()}


def _assert_roundtrip(got: dict[str, bytes], home: Path) -> None:
    for key, value in NASTY.items():
        assert got.get(key) == value.encode("utf-8"), key
    for key in GONE:
        assert key not in got, f"{key} survived the file that unsets it"
    assert not list(home.glob("pwned*")), "a command substitution was executed"


def _shell_file(tmp_path: Path, kind: str) -> Path:
    [rendered] = render_target(kind, NASTY, path=tmp_path / f"ollama.env.{kind}", unset=GONE)
    rendered.path.write_text(rendered.content, encoding="utf-8")
    return rendered.path


@pytest.mark.parametrize("shell", ["bash", "zsh", "sh"])
def test_posix_shells_read_every_value_back(shell: str, tmp_path: Path) -> None:
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip(f"{shell} is not installed (.ci/run installs zsh and fish with apt-get)")
    path = _shell_file(tmp_path, "shell")
    home = tmp_path / "scratch-home"
    home.mkdir()
    rcless = {"bash": ["--norc", "--noprofile"], "zsh": ["-f"], "sh": []}[shell]
    syntax = subprocess.run([exe, *rcless, "-n", str(path)], capture_output=True, check=False)
    assert syntax.returncode == 0, syntax.stderr
    script = '. "$1" && exec "$2" -c "$3"'
    got = _run_clean([exe, *rcless, "-c", script, shell, str(path), sys.executable, DUMP], home,
                     INHERITED)
    _assert_roundtrip(got, home)


def test_fish_reads_every_value_back(tmp_path: Path) -> None:
    exe = shutil.which("fish")
    if exe is None:
        pytest.skip("fish is not installed (.ci/run installs zsh and fish with apt-get)")
    path = _shell_file(tmp_path, "fish")
    home = tmp_path / "scratch-home"
    home.mkdir()
    syntax = subprocess.run([exe, "--no-config", "--no-execute", str(path)], capture_output=True,
                            check=False, env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert syntax.returncode == 0, syntax.stderr
    script = "source $argv[1]; and exec $argv[2] -c $argv[3]"
    got = _run_clean([exe, "--no-config", "-c", script, str(path), sys.executable, DUMP], home,
                     INHERITED)
    _assert_roundtrip(got, home)


@pytest.mark.parametrize("kind", ["shell", "fish"])
def test_a_file_that_only_unsets_ends_with_status_0(kind: str, tmp_path: Path) -> None:
    """`. file && ollama serve` (`source file; and ...`) must still start the server when
    every setting was removed and the variables are not set at all."""
    exe = shutil.which("bash" if kind == "shell" else "fish")
    if exe is None:
        pytest.skip(f"{kind} is not installed (.ci/run installs zsh and fish with apt-get)")
    [rendered] = render_target(kind, {}, path=tmp_path / f"only-unset.{kind}", unset=GONE)
    rendered.path.write_text(rendered.content, encoding="utf-8")
    argv = ([exe, "--norc", "--noprofile", "-c", '. "$1"', "bash", str(rendered.path)]
            if kind == "shell" else [exe, "--no-config", "-c", "source $argv[1]",
                                     str(rendered.path)])
    proc = subprocess.run(argv, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
                          capture_output=True, timeout=60, check=False)
    assert (proc.returncode, proc.stderr) == (0, b"")


@pytest.mark.parametrize("kind", ["shell", "fish", "systemd", "systemd-user", "launchd"])
@pytest.mark.parametrize("bad", ["two\nlines", "nul\x00byte", "tab\there", "esc\x1b[0m", "del\x7f",
                                 "cr\r"])
def test_values_that_cannot_round_trip_are_rejected(kind: str, bad: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="control character") as info:
        render_target(kind, {"OLLAMA_X": bad}, path=tmp_path / "f")
    assert info.value.path == "OLLAMA_X"


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", "", "A=B", "É"])
def test_invalid_variable_names_are_rejected(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="name"):
        render_target("shell", {name: "1"}, path=tmp_path / "f")
