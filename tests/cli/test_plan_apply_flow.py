"""Issue 5's acceptance flow through the CLI, with the shell target in a temporary HOME:
plan -> apply -> plan (no changes) -> hand edit -> drift -> stale saved plan refused -> destroy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli

CONFIG = """\
version: 1
backend: ollama
profile: balanced
target: {kind: shell}
server:
  keep_alive: 30m
  num_parallel: auto
models:
  - name: llama3.1:8b
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json",
                 hwdocs.hardware(gpus=[hwdocs.nvidia("NVIDIA GeForce RTX 4090", 24)]))
    return tmp_path


def env_file(home: Path) -> Path:
    return home / ".config" / "velollm" / "ollama.env.sh"


def sourced(path: Path) -> dict[str, str]:
    """What a real bash sees after sourcing the file."""
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c",
         f'. "{path}" && python3 -c "import os,json;print(json.dumps(dict(os.environ)))"'],
        capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]})
    return {k: v for k, v in json.loads(proc.stdout).items() if k.startswith("OLLAMA_")}


def test_full_lifecycle(project: Path, isolated_home: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--out", "old-plan.json",
                       "--detailed-exitcode")
    assert code == 2
    assert "+ OLLAMA_NUM_PARALLEL = " in out
    assert "Plan: " in out.splitlines()[-1]
    assert not env_file(isolated_home).exists()  # plan writes nothing but the plan file

    code, out, _ = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["changed"] is True
    assert doc["files"] == [str(env_file(isolated_home))]
    written = sourced(env_file(isolated_home))
    assert written["OLLAMA_KEEP_ALIVE"] == "30m"
    assert int(written["OLLAMA_NUM_PARALLEL"]) >= 1

    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert (code, out.splitlines()[-1]) == (
        0, "No changes. Your Ollama configuration matches velollm.yaml.")

    code, out, _ = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve", "--json")
    assert (code, json.loads(out)["changed"]) == (0, False)  # idempotent

    text = env_file(isolated_home).read_text().replace("'30m'", "'2h'")
    env_file(isolated_home).write_text(text)
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert code == 2
    assert "~ OLLAMA_KEEP_ALIVE: 2h -> 30m" in out
    assert "(changed outside velollm)" in out

    code, _, err = cli(capsys, "apply", "old-plan.json")
    assert code == 1
    assert "Saved plan is stale" in err
    assert "ollama.env.sh changed since the plan was made" in err
    assert sourced(env_file(isolated_home))["OLLAMA_KEEP_ALIVE"] == "2h"  # untouched

    code, out, _ = cli(capsys, "destroy", "--auto-approve")
    assert code == 0
    assert not env_file(isolated_home).exists()
    code, out, _ = cli(capsys, "destroy", "--auto-approve")
    assert (code, out.strip()) == (0, "Nothing to destroy.")


def test_fresh_saved_plan_applies_exactly(project: Path, isolated_home: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "plan", "--hardware", "hw.json", "--out", "p.json")[0] == 0
    saved = json.loads((project / "p.json").read_text())
    code, out, _ = cli(capsys, "apply", "p.json", "--json")
    assert code == 0 and json.loads(out)["changed"] is True
    assert env_file(isolated_home).read_text() == saved["files"][0]["content"]


def test_config_change_makes_saved_plan_stale(project: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "plan", "--hardware", "hw.json", "--out", "p.json")[0] == 0
    (project / "velollm.yaml").write_text(CONFIG.replace("30m", "1h"))
    code, _, err = cli(capsys, "apply", "p.json")
    assert code == 1
    assert "Saved plan is stale: velollm.yaml changed since the plan was made" in err


def test_check_writes_nothing(project: Path, isolated_home: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "apply", "--hardware", "hw.json", "--check", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["changed"] is True
    assert doc["diff"][0]["before"] is None
    assert "OLLAMA_KEEP_ALIVE='30m'" in doc["diff"][0]["after"]
    assert not env_file(isolated_home).exists()
    assert not (isolated_home / ".local/state/velollm/state.json").exists()


def test_diff_shows_unified_diff(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "apply", "--hardware", "hw.json", "--check", "--diff")
    assert code == 0
    assert "+export OLLAMA_KEEP_ALIVE='30m'" in out
    assert "--- /dev/null" in out


def test_no_terminal_refuses_without_auto_approve(project: Path, isolated_home: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, _, err = cli(capsys, "apply", "--hardware", "hw.json")
    assert code == 1
    assert "--auto-approve" in err
    assert not env_file(isolated_home).exists()


def test_foreign_file_needs_force_and_is_restored(project: Path, isolated_home: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = env_file(isolated_home)
    target.parent.mkdir(parents=True)
    target.write_text("export OLLAMA_DEBUG=1  # mine\n")
    code, _, err = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")
    assert code == 1
    assert "--force" in err
    assert target.read_text() == "export OLLAMA_DEBUG=1  # mine\n"
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json")
    assert "- OLLAMA_DEBUG (was 1)" in out
    assert cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve", "--force")[0] == 0
    assert "OLLAMA_DEBUG" not in sourced(target)
    assert cli(capsys, "destroy", "--auto-approve")[0] == 0
    assert target.read_text() == "export OLLAMA_DEBUG=1  # mine\n"


def test_plan_file_and_config_options_conflict(project: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "plan", "--hardware", "hw.json", "--out", "p.json")[0] == 0
    code, _, err = cli(capsys, "apply", "p.json", "--target", "fish")
    assert code == 1
    assert "either PLANFILE" in err


def test_not_a_plan_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "apply", "hw.json")
    assert code == 1
    assert err == ("error: hw.json is not a velollm plan\n"  # which file, when apply reads two
                   "hint: create one with `velollm plan --out plan.json`\n")


def test_knobs_without_ollama_prefix_read_back(project: Path, isolated_home: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """CUDA_VISIBLE_DEVICES and HTTPS_PROXY are read back too: after apply, plan is clean."""
    (project / "velollm.yaml").write_text(
        CONFIG.replace("  keep_alive: 30m\n", "  keep_alive: 30m\n  cuda_visible_devices: '0'\n"
                       "  https_proxy: http://proxy.lan:3128\n"))
    code, out, _ = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")
    assert code == 0
    written = env_file(isolated_home).read_text()
    assert "CUDA_VISIBLE_DEVICES='0'" in written and "HTTPS_PROXY=" in written
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert (code, out.splitlines()[-1]) == (
        0, "No changes. Your Ollama configuration matches velollm.yaml.")


def test_stop_list_writes_one_parameter_per_sequence(project: Path, isolated_home: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (project / "velollm.yaml").write_text(
        CONFIG + '    stop: ["<|eot_id|>", "User:"]\n')
    code, _, _ = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")
    assert code == 0
    modelfile = isolated_home / ".config" / "velollm" / "modelfiles" / "llama3.1_8b.Modelfile"
    stops = [ln for ln in modelfile.read_text().splitlines() if ln.startswith("PARAMETER stop")]
    assert stops == ["PARAMETER stop <|eot_id|>", "PARAMETER stop User:"]
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert (code, out.splitlines()[-1]) == (
        0, "No changes. Your Ollama configuration matches velollm.yaml.")


def test_stop_list_round_trips_plan_apply_plan(project: Path, isolated_home: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A stop list stays a list: in the plan's text and JSON, one quoted PARAMETER line per
    sequence in the Modelfile, read back as the same list, so the next plan has nothing to do."""
    (project / "velollm.yaml").write_text(
        CONFIG + """    stop: ['<|eot_id|>', ' User:', '""x', 'say "hi"', '"']\n""")
    stops = ["<|eot_id|>", " User:", '""x', 'say "hi"', '"']
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--out", "p.json")
    assert code == 0
    assert '+ llama3.1:8b stop = ["<|eot_id|>", " User:", "\\"\\"x", "say \\"hi\\"", "\\""]' in out
    assert json.loads((project / "p.json").read_text())["model_params"]["llama3.1:8b"][
        "stop"] == stops
    code, _, _ = cli(capsys, "apply", "p.json", "--auto-approve")
    assert code == 0
    modelfile = isolated_home / ".config" / "velollm" / "modelfiles" / "llama3.1_8b.Modelfile"
    lines = [ln for ln in modelfile.read_text().splitlines() if ln.startswith("PARAMETER stop")]
    assert lines == ["PARAMETER stop <|eot_id|>", 'PARAMETER stop " User:"',
                     'PARAMETER stop """""x"""', 'PARAMETER stop "say "hi""',
                     'PARAMETER stop """""""']
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert (code, out.splitlines()[-1]) == (
        0, "No changes. Your Ollama configuration matches velollm.yaml.")


def test_destroy_json_never_prompts_on_stdout(project: Path, isolated_home: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")[0] == 0
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)  # a terminal is there to ask on

    def no_prompt(prompt: str = "") -> str:
        raise AssertionError(f"prompted: {prompt}")

    monkeypatch.setattr("builtins.input", no_prompt)
    code, out, err = cli(capsys, "destroy", "--json")
    doc = json.loads(out)  # exactly one JSON document
    assert (code, doc["status"]) == (1, "error")
    assert "cannot ask for confirmation" in doc["errors"][0]["message"]
    assert "--auto-approve" in err
    assert env_file(isolated_home).exists()  # nothing was removed


def test_pinned_value_reason_does_not_claim_the_optimizer_value(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "velollm.yaml").write_text(CONFIG.replace("keep_alive: 30m", "keep_alive: 10m"))
    code, out, _ = cli(capsys, "plan", "--hardware", "hw.json", "--json")
    (setting,) = [s for s in json.loads(out)["settings"] if s["key"] == "keep_alive"]
    assert (code, setting["value"]) == (0, "10m")
    assert setting["reason"].startswith("pinned in velollm.yaml; without the pin, keep_alive = 30m")
