"""The systemd drop-in read by systemd itself, the LaunchAgent plist by plistlib and a real sh."""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.backends.ollama.nasty import NASTY
from velollm.backends.ollama.targets import LAUNCHD_LABEL, render_target

UNIT = """[Unit]
Description=Ollama Service (test copy)
[Service]
ExecStart=/bin/true
"""


def _dropin(tmp_path: Path) -> tuple[Path, str]:
    unit = tmp_path / "units" / "ollama.service"
    [rendered] = render_target("systemd", NASTY, path=unit.parent / "ollama.service.d" / "velollm.conf")
    rendered.path.parent.mkdir(parents=True)
    unit.write_text(UNIT)
    rendered.path.write_text(rendered.content, encoding="utf-8")
    return unit, rendered.content


def _unquote_systemd(words: str) -> list[str]:
    """systemd's extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE) for the escapes we emit."""
    out, i = [], 0
    simple = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "s": " "}
    while i < len(words):
        if words[i] == " ":
            i += 1
            continue
        assert words[i] == '"', words[i:]
        i, buf = i + 1, []
        while words[i] != '"':
            if words[i] == "\\":
                buf.append(simple[words[i + 1]])
                i += 2
            else:
                buf.append(words[i])
                i += 1
        out.append("".join(buf))
        i += 1
    return out


def test_dropin_unquotes_to_every_value(tmp_path: Path) -> None:
    """The same rules, independent of systemd being installed (specifier %% -> %)."""
    _, content = _dropin(tmp_path)
    lines = [ln for ln in content.splitlines() if ln.startswith("Environment=")]
    got = dict(w.replace("%%", "%").split("=", 1)
               for ln in lines for w in _unquote_systemd(ln[len("Environment="):]))
    assert got == NASTY
    assert content.splitlines()[1] == "[Service]"


def test_systemd_parses_every_value_exactly(tmp_path: Path) -> None:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed")
    unit, _ = _dropin(tmp_path)
    # verify loads the unit with its drop-ins from the unit's directory; at debug level it dumps the
    # parsed unit, Environment= values after unquoting and specifier expansion.
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "debug", "SYSTEMD_LOG_COLOR": "0"}
    proc = subprocess.run([exe, "verify", "--man=no", str(unit)], capture_output=True, env=env,
                          timeout=60, check=False)
    text = (proc.stdout + proc.stderr).decode("utf-8")
    assert proc.returncode == 0, text
    assert not re.search(r"velollm\.conf:\d+: ", text), text  # no "Invalid syntax, ignoring"
    if "DropIn Path:" not in text:
        pytest.skip("this systemd-analyze does not dump the parsed unit at debug level")
    assert f"DropIn Path: {unit.parent}/ollama.service.d/velollm.conf" in text
    got = dict(m.split("=", 1) for m in re.findall(r"^\s*Environment: (.*)$", text, re.MULTILINE))
    assert got == NASTY


def test_systemd_target_says_how_to_pick_it_up(tmp_path: Path) -> None:
    [rendered] = render_target("systemd", {"OLLAMA_HOST": "0.0.0.0"}, home=tmp_path)
    assert rendered.path == Path("/etc/systemd/system/ollama.service.d/velollm.conf")
    assert rendered.follow_up == ("systemctl daemon-reload", "systemctl restart ollama")
    assert "daemon-reload" in rendered.pickup


def _fake_launchctl(tmp_path: Path) -> tuple[Path, Path]:
    record = tmp_path / "launchctl.calls"
    fake = tmp_path / "launchctl"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" >> '{record}'\nprintf '\\1' >> '{record}'\n")
    fake.chmod(0o755)
    return fake, record


def _calls(record: Path) -> dict[str, str]:
    """setenv K V calls recorded by the fake launchctl, each argv NUL-separated."""
    got = {}
    for call in record.read_bytes().split(b"\1")[:-1]:
        argv = [a.decode("utf-8") for a in call.split(b"\0")[:-1]]
        assert argv[0] == "setenv" and len(argv) == 3, argv
        got[argv[1]] = argv[2]
    return got


def test_launchagent_plist_sets_every_value_at_login(tmp_path: Path) -> None:
    [rendered] = render_target("launchd", NASTY, home=tmp_path)
    assert rendered.path == tmp_path / "Library/LaunchAgents/com.velollm.ollama-env.plist"
    plist = plistlib.loads(rendered.content.encode("utf-8"))
    assert plist["Label"] == LAUNCHD_LABEL and plist["RunAtLoad"] is True
    sh, dash_c, script = plist["ProgramArguments"]
    assert (sh, dash_c) == ("/bin/sh", "-c")
    fake, record = _fake_launchctl(tmp_path)
    # Run what launchd would run, with launchctl swapped for a recorder.
    proc = subprocess.run(["/bin/sh", "-c", script.replace("/bin/launchctl ", f"{fake} ")],
                          cwd=tmp_path, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert _calls(record) == NASTY
    assert not list(tmp_path.glob("pwned*"))


def test_launchd_immediate_commands_set_every_value(tmp_path: Path) -> None:
    [rendered] = render_target("launchd", NASTY, home=tmp_path)
    fake, record = _fake_launchctl(tmp_path)
    assert all(cmd.startswith("launchctl setenv ") for cmd in rendered.follow_up)
    for cmd in rendered.follow_up:
        subprocess.run(["bash", "-c", f"{fake}{cmd[len('launchctl'):]}"], cwd=tmp_path,
                       check=True, timeout=60)
    assert _calls(record) == NASTY
    assert "Ollama.app" in rendered.pickup


def test_empty_environment_still_renders_valid_files(tmp_path: Path) -> None:
    [plist] = render_target("launchd", {}, home=tmp_path)
    assert plistlib.loads(plist.content.encode())["ProgramArguments"][2] == ":"
    [dropin] = render_target("systemd", {}, home=tmp_path)
    assert dropin.content.endswith("[Service]\n")


def test_user_unit_is_a_valid_unit_that_serves_with_every_value(tmp_path: Path) -> None:
    """`systemd-analyze verify --user` loads the whole unit: ExecStart's binary must exist and be
    executable (a path with a space, quoted), and it dumps the parsed Environment= values."""
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed")
    # systemd unquotes ExecStart=, expands specifiers (%h) and variables ($HOME) in it
    ollama = tmp_path / "bin dir $HOME %h ${X} %%" / "ollama"
    ollama.parent.mkdir()
    ollama.write_text("#!/bin/sh\n")
    ollama.chmod(0o755)
    [rendered] = render_target("systemd-user", NASTY, path=tmp_path / "ollama.service",
                               ollama=str(ollama))
    rendered.path.write_text(rendered.content, encoding="utf-8")
    runtime = tmp_path / "runtime"  # the user manager needs one; a container may have none
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "debug", "SYSTEMD_LOG_COLOR": "0",
           "XDG_RUNTIME_DIR": str(runtime)}
    proc = subprocess.run([exe, "verify", "--user", "--man=no", str(rendered.path)],
                          capture_output=True, env=env, timeout=60, check=False)
    text = (proc.stdout + proc.stderr).decode("utf-8")
    if proc.returncode != 0 and "Failed to initialize manager" in text:
        pytest.skip(f"systemd-analyze cannot start a user manager here: {text.strip()[-200:]}")
    assert proc.returncode == 0, text
    assert not re.search(r"ollama\.service:\d+: ", text), text  # no "Invalid syntax, ignoring"
    if "Fragment Path:" not in text:
        pytest.skip("this systemd-analyze does not dump the parsed unit at debug level")
    shown = str(ollama).replace("$", "\\$")  # the dump's own quoting of the parsed path
    assert f'Command Line: "{shown}" serve' in text
    assert re.search(r"^\s*Restart: on-failure$", text, re.MULTILINE)
    got = dict(m.split("=", 1) for m in re.findall(r"^\s*Environment: (.*)$", text, re.MULTILINE))
    assert got == NASTY


def test_user_unit_runs_ollama_from_path_without_one(tmp_path: Path) -> None:
    [rendered] = render_target("systemd-user", {"OLLAMA_HOST": "127.0.0.1"}, home=tmp_path)
    assert rendered.path == tmp_path / ".config/systemd/user/ollama.service"
    assert "\nExecStart=/usr/bin/env ollama serve\n" in rendered.content
    assert rendered.follow_up == ("systemctl --user daemon-reload",
                                  "systemctl --user restart ollama")
    assert "systemctl --user enable ollama" in rendered.pickup and not rendered.by_hand


def test_launchd_unsets_what_velollm_no_longer_wants(tmp_path: Path) -> None:
    """launchd keeps a variable in its session until unsetenv: the plist leaving it out is not
    enough until the next login."""
    [rendered] = render_target("launchd", {"OLLAMA_HOST": "h"}, home=tmp_path,
                               unset=["OLLAMA_KEEP_ALIVE", "OLLAMA_HOST"])
    assert rendered.follow_up == ("launchctl setenv OLLAMA_HOST 'h'",
                                  "launchctl unsetenv OLLAMA_KEEP_ALIVE")
    assert "KEEP_ALIVE" not in rendered.content
