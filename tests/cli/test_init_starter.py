"""`velollm init` writes a file that can be committed (nothing of this machine's paths in it)
whose values are the profile's, and `velollm validate --schema` gives editors the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import velollm.io.hardware
from tests.cli.cliutil import cli
from velollm.config import VerifySpec, builtin_profiles, load_config, load_profile, resolve
from velollm.config.check import schema_for
from velollm.io.schemas import document_problems
from velollm.resources import data_dir


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    def undetected(**_kw: object) -> None:
        raise RuntimeError("not probed in this test")

    monkeypatch.setattr(velollm.io.hardware, "detect", undetected)  # the values are hardware-free
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", builtin_profiles())
def test_init_shows_the_profiles_values(name: str, workdir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = cli(capsys, "init", "--profile", name)
    assert code == 0
    path = workdir / "velollm.yaml"
    text = path.read_text(encoding="utf-8")
    profile = load_profile(name, workdir)
    doc = yaml.safe_load(text)
    assert doc["profile"] == name and doc["server"] == {}
    # The file's verify: replaces the profile's, so it must hold the profile's values...
    wanted = {k: v for k, v in {**vars(VerifySpec()), **profile.verify}.items() if v is not None}
    assert doc["verify"] == wanted
    percent = re.search(r"more than (\S+) % slower", text)
    assert percent and float(percent.group(1)) == pytest.approx(wanted["max_regression"] * 100)
    # ... and the comment that lists the profile's server settings shows them as YAML reads them.
    [listed] = re.findall(r"^# The profile already sets: (.*)$", text, re.MULTILINE)
    shown = {k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in listed.split(", "))}
    assert shown == profile.server
    assert all(v not in ("True", "False") for v in re.findall(r"=(\w+)", listed))
    desired = resolve(load_config(path), None)
    assert desired.server == profile.server and vars(desired.verify) == {
        **vars(VerifySpec()), **profile.verify}


def test_init_writes_nothing_of_this_machine(workdir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "init")[0] == 0
    text = (workdir / "velollm.yaml").read_text(encoding="utf-8")
    assert "yaml-language-server" not in text and "$schema" not in text
    for local in (data_dir("schemas"), data_dir("schemas").parent, workdir):
        assert str(local) not in text
    assert "velollm validate --schema" in text  # where an editor gets the schema


def test_validate_schema_prints_the_schema_validate_checks(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "init", "--profile", "throughput")[0] == 0
    code, out, err = cli(capsys, "validate", "--schema")
    assert (code, err) == (0, "")
    schema = json.loads(out)
    assert schema == schema_for("config")
    assert schema["$id"] == "https://velollm.dev/schemas/velollm.schema.json"
    assert str(data_dir("schemas")) not in out
    starter = yaml.safe_load((workdir / "velollm.yaml").read_text(encoding="utf-8"))
    assert document_problems(schema, starter) == []
    assert document_problems(schema, {**starter, "sever": {}})  # it does check


def test_validate_schema_takes_no_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "validate", "--schema", "velollm.yaml")
    assert (code, out) == (2, "")
    assert "not allowed with argument --schema" in err


def test_init_from_a_profile_file_keeps_its_verify_model(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "mine.yaml").write_text(
        "description: mine\nobjective: latency\nserver: {keep_alive: -1, flash_attention: true}\n"
        "verify: {model: 'llama3.2:3b', max_regression: 0.2}\n", encoding="utf-8")
    assert cli(capsys, "init", "--profile", "mine.yaml")[0] == 0
    text = (workdir / "velollm.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert doc["profile"] == "mine.yaml"
    assert doc["verify"] == {"model": "llama3.2:3b", "iterations": 5, "max_regression": 0.2}
    assert "keep_alive=-1, flash_attention=true" in text and "more than 20 % slower" in text
    assert cli(capsys, "validate")[0] == 0
