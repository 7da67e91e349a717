"""`velollm completion bash|zsh|fish`: scripts the real shells accept, installed the way the README
says, that complete velollm's commands, options, choices and file arguments."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.cliutil import cli
from velollm.main import COMMANDS


def _script(capsys: pytest.CaptureFixture[str], shell: str, tmp_path: Path) -> Path:
    code, out, err = cli(capsys, "completion", shell)
    assert (code, err) == (0, "")
    path = tmp_path / f"velollm.{shell}"
    path.write_text(out, encoding="utf-8")
    return path


def _shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it)")
    return found


def _run(argv: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    path = f"{home / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin"
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                          cwd=home, env={"HOME": str(home), "PATH": path, "LANG": "C.UTF-8",
                                         **env})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME with a stand-in `velollm` on PATH (fish completes only commands it can find) and
    a file to complete."""
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    fake = home / "bin" / "velollm"
    fake.write_text("#!/bin/sh\n", encoding="utf-8")
    fake.chmod(0o755)
    (home / "hw.json").write_text("{}", encoding="utf-8")
    return home


# bash: the script is sourced, then the function `complete -p velollm` names is called the way
# readline calls it, with COMP_WORDS / COMP_CWORD of the line typed so far.
BASH_COMPLETE = """\
source "$1"; shift
spec=$(complete -p velollm) || exit 3
printf 'spec: %s\\n' "$spec"
fn=${spec#*-F }; fn=${fn%% *}
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
"$fn" velollm "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf 'reply: %s\\n' "${COMPREPLY[@]}"
"""


def _bash_complete(script: Path, home: Path, *words: str) -> list[str]:
    proc = _run([_shell("bash"), "--norc", "--noprofile", "-c", BASH_COMPLETE, "bash",
                 str(script), "velollm", *words], home)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"spec: complete( -o \w+)* -F \w+ velollm", lines[0]), lines[0]
    return sorted(line.removeprefix("reply: ") for line in lines[1:] if line != "reply: ")


def test_bash_accepts_the_script_and_completes(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, home: Path) -> None:
    script = _script(capsys, "bash", tmp_path)
    check = _run([_shell("bash"), "-n", str(script)], home)
    assert check.returncode == 0, check.stderr
    assert _bash_complete(script, home, "pl") == ["plan"]
    assert _bash_complete(script, home, "st") == ["status"]
    assert _bash_complete(script, home, "") == sorted(COMMANDS)
    assert _bash_complete(script, home, "completion", "") == ["bash", "fish", "zsh"]
    assert _bash_complete(script, home, "plan", "--tar") == ["--target"]
    assert _bash_complete(script, home, "apply", "--target", "s") == ["shell", "systemd",
                                                                       "systemd-user"]
    assert _bash_complete(script, home, "plan", "--hardware", "hw") == ["hw.json"]


def test_zsh_accepts_the_script_from_fpath_and_from_eval(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path, home: Path) -> None:
    zsh = _shell("zsh")
    script = _script(capsys, "zsh", tmp_path)
    check = _run([zsh, "-n", str(script)], home)
    assert check.returncode == 0, check.stderr
    zfunc = home / ".zfunc"  # the README's install: a file _velollm in a directory of fpath
    zfunc.mkdir()
    shutil.copy(script, zfunc / "_velollm")
    registered = 'print -r -- "$_comps[velollm]"'
    from_fpath = f"fpath=(~/.zfunc $fpath); autoload -Uz compinit; compinit -u -D; {registered}"
    proc = _run([zsh, "-f", "-c", from_fpath], home)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "_velollm\n", "")
    after_compinit = f'autoload -Uz compinit; compinit -u -D; eval "$(cat "$1")"; {registered}'
    proc = _run([zsh, "-f", "-c", after_compinit, "zsh", str(script)], home)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.strip() == "_shtab_velollm"


def test_fish_accepts_the_script_and_completes(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path, home: Path) -> None:
    fish = _shell("fish")
    script = _script(capsys, "fish", tmp_path)
    check = _run([fish, "--no-execute", str(script)], home)
    assert check.returncode == 0, check.stderr
    completions = home / ".config" / "fish" / "completions"  # the README's install
    completions.mkdir(parents=True)
    shutil.copy(script, completions / "velollm.fish")

    def complete(line: str) -> list[str]:
        proc = _run([fish, "-c", 'complete -C "$argv[1]"', line], home,
                    XDG_CONFIG_HOME=str(home / ".config"),
                    XDG_DATA_HOME=str(home / ".local" / "share"))
        assert proc.returncode == 0, proc.stderr
        return sorted(line.split("\t")[0] for line in proc.stdout.splitlines())

    assert complete("velollm pl") == ["plan"]
    assert complete("velollm completion ") == ["bash", "fish", "zsh"]
    assert complete("velollm apply --target s") == ["shell", "systemd", "systemd-user"]


def test_the_json_twin_holds_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    code, script, _ = cli(capsys, "completion", "fish")
    code_json, out, _ = cli(capsys, "completion", "fish", "--json")
    assert code == code_json == 0
    assert json.loads(out)["script"] == script and json.loads(out)["shell"] == "fish"


@pytest.mark.parametrize("argv", [["completion"], ["completion", "powershell"]])
def test_a_shell_it_does_not_support_is_a_usage_error(argv: list[str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert "bash" in err and "zsh" in err and "fish" in err
