"""llama.cpp's targets read back by the real parsers: bash, zsh and fish source the env files,
systemd-analyze parses the drop-in and the unit, plistlib and sh run the LaunchAgent; the preset
INI is read back the way common/preset.cpp reads it. Every value comes back byte for byte."""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.backends.ollama.nasty import NASTY
from velollm.backends.llamacpp import BACKEND
from velollm.backends.llamacpp.targets import parse_preset, render_target
from velollm.errors import ConfigError

# The nasty values under LLAMA_ARG_ names, so read_back (which keeps LLAMA_ARG_*) returns them.
VALUES = {f"LLAMA_ARG_{k}": v for k, v in NASTY.items() if k.startswith("V_")}
DUMP = ("import json,os,sys; sys.stdout.write(json.dumps("
        "{k.decode(): v.hex() for k, v in os.environb.items()}))")


def _render(kind: str, tmp_path: Path, env: dict[str, str] | None = None,
            unset: tuple[str, ...] = ()) -> Path:
    [rendered] = render_target(kind, VALUES if env is None else env,
                               path=tmp_path / f"target.{kind}", home=tmp_path, unset=unset,
                               binary="/bin/true")
    rendered.path.write_text(rendered.content, encoding="utf-8")
    assert BACKEND.read_back(kind, rendered.content)[0] == (VALUES if env is None else env)
    return rendered.path


def _sourced(argv: list[str], home: Path, inherited: dict[str, str]) -> dict[str, bytes]:
    proc = subprocess.run(argv, env={"HOME": str(home), "PATH": "/usr/bin:/bin", **inherited},
                          cwd=home, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return {k: bytes.fromhex(v) for k, v in json.loads(proc.stdout).items()}


@pytest.mark.parametrize("shell", ["bash", "zsh", "sh", "fish"])
def test_shells_read_every_value_and_drop_stale_ones(shell: str, tmp_path: Path) -> None:
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip(f"{shell} is not installed")
    stale = {"LLAMA_ARG_DRAFT_MAX": "4", "LLAMA_ARG_GONE": "1"}
    # through the backend: a removed argument's variable is always unset in shell files
    [rendered] = BACKEND.render("fish" if shell == "fish" else "shell", VALUES,
                                path=tmp_path / "llamacpp.env", models={},
                                unset=("LLAMA_ARG_GONE",))
    rendered.path.write_text(rendered.content, encoding="utf-8")
    python = shutil.which("python3") or "python3"
    if shell == "fish":
        argv = [exe, "--no-config", "-c", f"source {rendered.path}; and {python} -c '{DUMP}'"]
    else:
        argv = [exe, "-c", f'. "{rendered.path}" && {python} -c "{DUMP}"']
    got = _sourced(argv, tmp_path, stale)
    for key, value in VALUES.items():
        assert got.get(key) == value.encode("utf-8"), key
    assert "LLAMA_ARG_DRAFT_MAX" not in got and "LLAMA_ARG_GONE" not in got
    assert not list(tmp_path.glob("pwned*"))


def _systemd_dump(exe: str, unit: Path, *extra: str) -> str:
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "debug", "SYSTEMD_LOG_COLOR": "0"}
    proc = subprocess.run([exe, "verify", *extra, "--man=no", str(unit)], capture_output=True,
                          env=env, timeout=60, check=False)
    text = (proc.stdout + proc.stderr).decode("utf-8")
    if proc.returncode != 0 and "--user" in extra:
        pytest.skip(f"systemd-analyze cannot verify a user unit here: {text.strip()[-200:]}")
    assert proc.returncode == 0, text
    if "Environment:" not in text:
        pytest.skip("this systemd-analyze does not dump the parsed unit at debug level")
    return text


def test_systemd_dropin_and_unit_parse_every_value(tmp_path: Path) -> None:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed")
    units = tmp_path / "units"
    dropin = units / "llama-server.service.d"
    dropin.mkdir(parents=True)
    (units / "llama-server.service").write_text("[Service]\nExecStart=/bin/true\n")
    [rendered] = render_target("systemd", VALUES, path=dropin / "velollm.conf", home=tmp_path)
    rendered.path.write_text(rendered.content, encoding="utf-8")
    assert rendered.follow_up == ("systemctl daemon-reload",
                                  "systemctl restart llama-server.service")
    text = _systemd_dump(exe, units / "llama-server.service")
    assert not re.search(r"velollm\.conf:\d+: ", text), text
    got = dict(m.split("=", 1) for m in re.findall(r"^\s*Environment: (.*)$", text, re.MULTILINE))
    assert got == VALUES
    unit = _render("systemd-user", tmp_path)
    text = _systemd_dump(exe, unit.rename(tmp_path / "llama-server.service"))
    assert "ExecStart" in unit.parent.joinpath("llama-server.service").read_text()
    got = dict(m.split("=", 1) for m in re.findall(r"^\s*Environment: (.*)$", text, re.MULTILINE))
    assert got == VALUES


def test_user_unit_runs_llama_server_and_restarts_it(tmp_path: Path) -> None:
    [rendered] = render_target("systemd-user", {"LLAMA_ARG_PORT": "8080"}, path=None,
                               home=tmp_path, binary="/opt/llama cpp/llama-server")
    assert rendered.path == tmp_path / ".config/systemd/user/llama-server.service"
    assert 'ExecStart="/opt/llama cpp/llama-server"' in rendered.content
    assert rendered.follow_up[-1] == "systemctl --user restart llama-server.service"
    [bare] = render_target("systemd-user", {}, path=None, home=tmp_path)
    assert "ExecStart=/usr/bin/env llama-server" in bare.content


def test_launchagent_sets_every_value(tmp_path: Path) -> None:
    [rendered] = render_target("launchd", VALUES, path=None, home=tmp_path)
    plist = plistlib.loads(rendered.content.encode("utf-8"))
    assert plist["Label"] == "com.velollm.llamacpp-env"
    record = tmp_path / "calls"
    fake = tmp_path / "launchctl"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" >> '{record}'\nprintf '\\1' >> '{record}'\n")
    fake.chmod(0o755)
    script = plist["ProgramArguments"][2].replace("/bin/launchctl ", f"{fake} ")
    subprocess.run(["/bin/sh", "-c", script], cwd=tmp_path, check=True, timeout=60)
    calls = [c.split(b"\0")[:-1] for c in record.read_bytes().split(b"\1")[:-1]]
    assert {a[1].decode(): a[2].decode() for a in calls} == VALUES
    assert BACKEND.read_back("launchd", rendered.content)[0] == VALUES


PLAIN = {"LLAMA_ARG_CTX_SIZE": "16384", "LLAMA_ARG_CACHE_TYPE_K": "q8_0",
         "LLAMA_ARG_HOST": "127.0.0.1", "LLAMA_ARG_SPEC_TYPE": "ngram-mod,draft-simple"}


def test_preset_ini_reads_back_globals_and_model_sections(tmp_path: Path) -> None:
    models = {"qwen": {"LLAMA_ARG_MODEL": "/models/qwen 7b.gguf"},
              "smol:Q4": {"LLAMA_ARG_MODEL": "/m/smol.gguf", "LLAMA_ARG_CTX_SIZE": "4096"}}
    [rendered] = render_target("preset", PLAIN, path=None, home=tmp_path, models=models)
    assert rendered.path == tmp_path / ".config/velollm/llamacpp-models.ini"
    assert parse_preset(rendered.content) == (PLAIN, models)
    assert BACKEND.read_back("preset", rendered.content) == (PLAIN, models)
    assert "[*]\n" in rendered.content and "version = 1" in rendered.content


def test_env_targets_bring_the_preset_file_in_router_mode(tmp_path: Path) -> None:
    files = render_target("shell", PLAIN, path=tmp_path / "x.sh", home=tmp_path,
                          models={"a": {"LLAMA_ARG_MODEL": "/a.gguf"}})
    assert [f.kind for f in files] == ["shell", "preset"]


@pytest.mark.parametrize("value", ["a;b", "a #b", " lead", "trail ", ""])
def test_preset_refuses_values_its_reader_would_cut(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="INI"):
        render_target("preset", {"LLAMA_ARG_ALIAS": value}, path=None, home=tmp_path)
