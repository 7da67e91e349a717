"""Hostile values in velollm.yaml through `velollm apply` (issue 15): each is either written so that
the target's real parser reads it back exactly (and the next plan finds nothing to change), or
refused before anything is written. The generated values are in tests/io/test_values_roundtrip.py;
this is the same promise end to end through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli, refused
from tests.io import realparsers

# Every syntax's specials at once, plus a value whose blanks at both ends must survive.
VALUES = {
    "origins": "a'b\"c\\d$e`f%g!h;&|<>#() ${HOME} $(id) %n %% \u2028\u0085 é 😀 end\\",
    "models": "  /srv/my models/ ",
    "no_proxy": "-e",
}
ENV = {"OLLAMA_ORIGINS": VALUES["origins"], "OLLAMA_MODELS": VALUES["models"],
       "NO_PROXY": VALUES["no_proxy"]}
Reader = Callable[[str, Path], "dict[str, str] | None"]
READERS: dict[str, tuple[str, Reader]] = {
    "shell": ("env.sh", lambda text, tmp: realparsers.posix_shell("bash", text, tmp)),
    "zsh": ("env.sh", lambda text, tmp: realparsers.posix_shell("zsh", text, tmp)),
    "fish": ("env.fish", realparsers.fish),
    "systemd": ("velollm.conf", realparsers.systemd),
    "launchd": ("agent.plist", realparsers.launchd),
}


def yaml_quoted(value: str) -> str:
    """A YAML double-quoted scalar: escapes for all but printable characters, so that line
    breaks YAML knows (U+0085, U+2028) and what its reader refuses (U+FFFE) reach velollm."""
    def one(ch: str) -> str:
        if ch in '"\\':
            return "\\" + ch
        if ch.isprintable() and ch not in "\u2028\u2029\ufeff" and ord(ch) < 0xFFFE:
            return ch
        return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else (
            f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return '"' + "".join(map(one, value)) + '"'


def _config(where: Path, kind: str, path: Path, values: dict[str, str]) -> None:
    server = "".join(f"  {k}: {yaml_quoted(v)}\n" for k, v in values.items())
    (where / "velollm.yaml").write_text(
        f"version: 1\ntarget: {{kind: {kind}, path: {json.dumps(str(path))}}}\nserver:\n{server}",
        encoding="utf-8")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    return tmp_path


@pytest.mark.parametrize("reader", sorted(READERS))
def test_applied_values_read_back_exactly(reader: str, workdir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    name, read = READERS[reader]
    kind = "shell" if reader == "zsh" else reader
    target = workdir / "out" / name
    _config(workdir, kind, target, VALUES)
    code, out, err = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")
    assert code == 0, out + err
    scratch = workdir / "scratch"
    scratch.mkdir()
    got = read(target.read_text(encoding="utf-8"), scratch)
    if got is None:
        pytest.skip(f"the real parser for {reader} is not installed here")
    assert {k: got.get(k) for k in ENV} == ENV
    assert not list(scratch.glob("*id*")), "a command substitution ran"
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert code == 0, out  # read back by velollm too: nothing to change


@pytest.mark.parametrize(("value", "says"), [
    ("a\ufffeb", "noncharacter U+FFFE"), ("a\U0010ffffb", "noncharacter U+10FFFF"),
    ("x" * 9000, "9000 bytes long"), ("tab\there", "control character"),
    ("esc\x1b[31m", "control character")])
@pytest.mark.parametrize("kind", ["shell", "systemd", "launchd"])
def test_values_no_target_can_hold_are_refused_before_writing(
        kind: str, value: str, says: str, workdir: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _config(workdir, kind, workdir / "out" / "file", {"origins": value})
    said = refused(capsys, (isolated_home, workdir), "apply", "--hardware", "hw.json",
                   "--auto-approve")
    assert says in said and "origins" in said.replace("OLLAMA_ORIGINS", "origins")
    assert not (workdir / "out").exists()


@pytest.mark.parametrize("option", ["--path", "--hardware", "-f"])
@pytest.mark.parametrize("bad", ["out/a\nb", "out/\x1b[2Jx", "out/\ufffe"])
def test_path_options_with_control_characters_are_usage_errors(
        option: str, bad: str, workdir: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _config(workdir, "shell", workdir / "out" / "env.sh", {"models": "/srv"})
    code, _out, err = cli(capsys, "apply", "--auto-approve", option, bad,
                         *(["--hardware", "hw.json"] if option != "--hardware" else []))
    assert code == 2 and "Traceback" not in err
    assert f"invalid {option.replace('-f', '--file')}" in err and "\x1b" not in err
    assert not (workdir / "out").exists()
