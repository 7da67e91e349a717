"""A setting removed from velollm.yaml does not survive (issue 14), through the CLI: the plan
shows its removal, the shell or fish file then unsets it (a shell that sourced the earlier file
would hand the old value on to `ollama serve`), the next plan has no changes, and state keeps the
name so later applies go on unsetting it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.io.state import load_state

CONFIG = """\
version: 1
backend: ollama
profile: balanced
target: {{kind: {kind}, path: {path}}}
server:
  keep_alive: 30m
{extra}"""


def _config(project: Path, kind: str, extra: str = "") -> None:
    (project / "velollm.yaml").write_text(CONFIG.format(kind=kind, path=f"ollama.env.{kind}",
                                                        extra=extra))


def sourced(kind: str, path: Path, inherited: dict[str, str]) -> dict[str, str]:
    """The OLLAMA_ variables a real bash or fish has after sourcing `path`, started with
    `inherited` in its environment (as by a shell that sourced the earlier file)."""
    dump = "import os,json;print(json.dumps(dict(os.environ)))"
    exe = shutil.which("bash" if kind == "shell" else "fish")
    if exe is None:
        pytest.skip(f"{kind} is not installed (.ci/run installs fish with apt-get)")
    argv = ([exe, "--norc", "--noprofile", "-c", f'. "{path}" && python3 -c "{dump}"']
            if kind == "shell" else [exe, "--no-config", "-c",
                                     f"source '{path}'; and python3 -c '{dump}'"])
    proc = subprocess.run(argv, capture_output=True, text=True, check=True,
                          env={"PATH": os.environ["PATH"], "HOME": str(path.parent),
                               **inherited})
    return {k: v for k, v in json.loads(proc.stdout).items() if k.startswith("OLLAMA_")}


@pytest.mark.parametrize("kind", ["shell", "fish"])
def test_a_removed_setting_is_unset_and_stays_unset(kind: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    env_file = tmp_path / f"ollama.env.{kind}"
    hw = ("--hardware", "hw.json")
    _config(tmp_path, kind, "  max_queue: 64\n")
    code, out, err = cli(capsys, "apply", *hw, "--auto-approve")
    assert code == 0, out + err
    assert sourced(kind, env_file, {})["OLLAMA_MAX_QUEUE"] == "64"

    _config(tmp_path, kind)  # the key is gone from velollm.yaml
    code, out, _ = cli(capsys, "plan", *hw, "--detailed-exitcode")
    assert code == 2
    assert "- OLLAMA_MAX_QUEUE (was 64)" in out
    assert out.splitlines()[-1] == "Plan: 0 to add, 0 to change, 1 to remove."
    code, out, err = cli(capsys, "apply", *hw, "--auto-approve", "--json")
    assert (code, json.loads(out)["changed"]) == (0, True), err
    unset_line = {"shell": "unset -v OLLAMA_MAX_QUEUE",
                  "fish": "set -e -g OLLAMA_MAX_QUEUE"}[kind]
    assert unset_line in env_file.read_text()
    # the shell that sourced the first file still has 64: the new file takes it away
    now = sourced(kind, env_file, {"OLLAMA_MAX_QUEUE": "64"})
    assert "OLLAMA_MAX_QUEUE" not in now and now["OLLAMA_KEEP_ALIVE"] == "30m"
    assert load_state().settings["unset"] == ["OLLAMA_MAX_QUEUE"]

    # the unset line reads back as no value: nothing to change, and it stays (idempotent)
    code, out, _ = cli(capsys, "plan", *hw, "--detailed-exitcode")
    assert (code, out.splitlines()[-1]) == (
        0, "No changes. Your Ollama configuration matches velollm.yaml.")
    code, out, _ = cli(capsys, "apply", *hw, "--auto-approve", "--json")
    assert (code, json.loads(out)["changed"]) == (0, False)
    assert unset_line in env_file.read_text()

    _config(tmp_path, kind, "  max_queue: 128\n")  # wanted again: set, no longer unset
    code, out, _ = cli(capsys, "plan", *hw, "--detailed-exitcode")
    assert code == 2 and "+ OLLAMA_MAX_QUEUE = 128" in out
    code, out, _ = cli(capsys, "apply", *hw, "--auto-approve")
    assert code == 0
    assert unset_line not in env_file.read_text()
    assert sourced(kind, env_file, {"OLLAMA_MAX_QUEUE": "64"})["OLLAMA_MAX_QUEUE"] == "128"
    assert load_state().settings["unset"] == []
