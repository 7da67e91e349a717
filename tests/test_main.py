from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from velollm import __version__, main
from velollm.errors import VelollmError


def test_version_fast_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["--version"]) == 0
    assert capsys.readouterr().out == f"velollm {__version__}\n"


def test_unknown_command_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["no-such-command"]) == 2
    assert capsys.readouterr() == (
        "", "error: unknown command 'no-such-command'; `velollm --help` lists the commands\n")


@pytest.mark.parametrize(("argv", "typo", "meant"), [
    (["plna"], "plna", "plan"),
    (["--color", "never", "aply", "--auto-approve"], "aply", "apply"),
    (["-v", "detcet", "--json"], "detcet", "detect"),
    (["--col", "never", "verfiy"], "verfiy", "verify")])
def test_mistyped_command_suggests_the_right_one(argv: list[str], typo: str, meant: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(argv) == 2
    assert capsys.readouterr() == (
        "", f"error: unknown command {typo!r}; did you mean {meant!r}?\n")


@pytest.mark.parametrize(("argv", "said"), [
    (["plan", "--hardwre", "hw.json"],
     "error: unknown option '--hardwre'; did you mean '--hardware'?\n"),
    (["--json", "detect", "--timout=3"],
     "error: unknown option '--timout'; did you mean '--timeout'?\n"),
    (["plan", "--bogus"],
     ("error: unknown option '--bogus' for `velollm plan`\n"
      "hint: `velollm plan --help` lists its options\n")),
    (["plan", "extra"],
     ("error: unexpected argument 'extra' for `velollm plan`\n"
      "hint: `velollm plan --help` shows what it takes\n"))])
def test_unknown_option_names_the_command_s_own_option(argv: list[str], said: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # argparse alone prints the top-level usage and blames `velollm`, suggesting nothing
    assert main.main(argv) == 2
    assert capsys.readouterr() == ("", said)


@pytest.mark.parametrize("argv", [[], ["-v"], ["--color", "never"]])
def test_no_command_prints_the_help_exit_2(argv: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(argv) == 2  # as git and terraform: non-zero, since no command ran
    out, err = capsys.readouterr()
    assert out.startswith("usage: velollm ") and "Declarative configuration manager" in out
    assert all(command in out for command in main.COMMANDS)
    assert err == ""


def test_help_before_the_command_is_still_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["--help", "plna"]) == 0
    assert capsys.readouterr().out.startswith("usage: velollm ")


@pytest.mark.parametrize("command", main.COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main([command, "--help"]) == 0
    assert command in capsys.readouterr().out


@pytest.mark.parametrize("command", main.COMMANDS)
def test_every_help_fits_80_columns(command: str, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to it; a long choice list does not wrap
    assert main.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80, out


def test_expected_error_is_one_line_exit_1(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    def boom(_args: object) -> int:
        raise VelollmError("the thing is wrong", hint="do the other thing")

    monkeypatch.setattr(main.COMMANDS["detect"], "run", boom)
    assert main.main(["detect"]) == 1
    err = capsys.readouterr().err
    assert "error: the thing is wrong" in err
    assert "hint: do the other thing" in err
    assert "Traceback" not in err


def test_expected_error_json_twin(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    import json

    def boom(_args: object) -> int:
        raise VelollmError("bad key", path="$.server.x")

    monkeypatch.setattr(main.COMMANDS["detect"], "run", boom)
    assert main.main(["detect", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "error"
    assert doc["errors"] == [{"path": "$.server.x", "message": "bad key"}]


def test_bug_writes_crash_log_not_traceback(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            isolated_home: Path) -> None:
    def bug(_args: object) -> int:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(main.COMMANDS["detect"], "run", bug)
    assert main.main(["detect"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    logs = list((isolated_home / ".local/state/velollm/logs").glob("velollm-crash-*.log"))
    assert len(logs) == 1
    assert str(logs[0]) in err
    assert "ZeroDivisionError: oops" in logs[0].read_text()


def test_keyboard_interrupt_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(main.COMMANDS["detect"], "run", interrupted)
    assert main.main(["detect"]) == 130


def test_python_dash_m_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "velollm", "--version"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"velollm {__version__}"


def test_version_imports_nothing_but_the_entry_point() -> None:
    """`velollm --version` (the console script's module) imports no command, parser or library."""
    code = ("import sys; sys.argv = ['velollm', '--version']; from velollm.entry import main; "
            "main(); print(sorted(m for m in sys.modules if m.startswith('velollm')), "
            "'argparse' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.splitlines()[-1] == "['velollm', 'velollm.entry'] False"


def test_version_does_not_import_heavy_libraries() -> None:
    code = ("import sys; from velollm.main import main; main(['--version']);"
            "heavy = {'deepdiff','jinja2','jsonschema','requests','yaml','psutil','pynvml',"
            "'shtab'};"
            "print(sorted(heavy & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip().endswith("[]")


def test_plan_in_a_terminal_imports_only_what_it_uses(tmp_path: Path) -> None:
    """An offline `velollm plan` on a velollm.yaml that passed before imports no jsonschema (the
    pass is remembered, io/validmemo.py), no jinja2 (the files' text is not shown), no deepdiff
    (nothing written yet: every setting is an addition), no probe of this machine and no HTTP
    client; with --json the files' text is rendered; against other values, deepdiff runs."""
    import json

    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\ntarget: {kind: shell, path: ollama.env.sh}\n"
        "models:\n  - name: llama3.1:8b\n")
    hw = subprocess.run([sys.executable, "-m", "velollm", "detect", "--json"],
                        capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    (tmp_path / "hw.json").write_text(hw)
    code = ("import sys; from velollm.main import main; code = main(sys.argv[1:]); "
            "watched = {'jsonschema', 'jinja2', 'deepdiff', 'requests', 'aiohttp', 'psutil', "
            "'pynvml', 'velollm.io.hardware.detector'};"
            "print(json.dumps(sorted(watched & set(sys.modules))), file=sys.stderr); "
            "sys.exit(code)").replace("import sys;", "import sys, json;")

    def imported(*flags: str) -> list[str]:
        proc = subprocess.run([sys.executable, "-c", code, *flags, "plan", "--hardware",
                               "hw.json"], capture_output=True, text=True, cwd=tmp_path,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        return list(json.loads(proc.stderr.strip().splitlines()[-1]))

    assert imported() == ["jsonschema"]  # the first plan of this file validates it
    assert imported() == []
    assert imported("--json") == ["jinja2"]
    (tmp_path / "ollama.env.sh").write_text("export OLLAMA_NUM_PARALLEL=1\n")
    assert imported() == ["deepdiff"]
