"""io/validmemo.py: a document that passed its schema is not checked again (jsonschema not even
imported) while the schema, the document and the validator are the same; anything else is a
miss, and a document with problems is never remembered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from velollm.config import load_config
from velollm.errors import SchemaValidationError
from velollm.io import validmemo
from velollm.io.schemas import document_problems

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "tests" / "data" / "valid" / "issue_example.yaml"
SCHEMA: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                          "type": "object", "properties": {"n": {"type": "integer"}}}
STRICT: dict[str, Any] = {**SCHEMA, "required": ["m"]}


@pytest.fixture(autouse=True)
def nothing_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes noted by earlier tests in this process are not this test's."""
    monkeypatch.setattr(validmemo, "_PENDING", set())


def markers() -> list[str]:
    folder = Path(os.environ["XDG_CACHE_HOME"]) / "velollm" / "valid"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def imports_jsonschema(config: Path) -> bool:
    """`velollm validate FILE` in a fresh interpreter (the test's XDG cache): did it import
    jsonschema?"""
    code = ("import sys; from velollm.main import main; code = main(sys.argv[1:]); "
            "print('jsonschema' in sys.modules); sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", code, "validate", str(config)],
                         capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out.stdout.strip().splitlines()[-1] == "True"


def test_a_valid_config_is_checked_once(tmp_path: Path) -> None:
    config = tmp_path / "velollm.yaml"
    config.write_text(VALID.read_text())
    assert imports_jsonschema(config)  # the first run validates
    assert markers()  # ... and remembers the pass
    assert not imports_jsonschema(config)  # the second does not import jsonschema at all
    config.write_text(VALID.read_text().replace("balanced", "throughput"))
    assert imports_jsonschema(config)  # a changed document is a miss


def test_a_document_with_problems_is_never_remembered(tmp_path: Path) -> None:
    config = tmp_path / "velollm.yaml"
    config.write_text("version: 1\nbackend: ollama\nserver: {num_parallel: many}\n")
    for _ in range(2):
        with pytest.raises(SchemaValidationError) as err:
            load_config(config)
        assert any("num_parallel" in p["path"] for p in err.value.problems)
    validmemo.flush()
    assert markers() == []


def test_a_pass_under_one_schema_says_nothing_of_another() -> None:
    data = {"n": 1}
    assert document_problems(SCHEMA, data) == []
    assert markers() == []  # written only when the command succeeds
    validmemo.flush()
    assert len(markers()) == 1
    assert document_problems(SCHEMA, data) == []  # the memo answers; same verdict
    assert [p["message"] for p in document_problems(STRICT, data)] == \
        ["'m' is a required property"]


def test_the_validator_is_part_of_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    data = {"n": 2}
    first = validmemo.key(SCHEMA, data)
    validmemo.remember_valid(first)
    validmemo.flush()
    assert validmemo.known_valid(first)
    monkeypatch.setattr(validmemo, "_validator_stamp", lambda: ["another jsonschema", 1, 2])
    assert validmemo.key(SCHEMA, data) != first
    assert not validmemo.known_valid(validmemo.key(SCHEMA, data))


@pytest.mark.parametrize("data", [{1: "a"}, {"when": __import__("datetime").date(2026, 1, 1)},
                                  {"n": b"bytes"}])
def test_what_json_cannot_tell_apart_is_always_validated(data: Any) -> None:
    """YAML's {1: a} and {"1": a} dump alike; a date is not JSON: no key, no memo."""
    assert validmemo.key(SCHEMA, data) is None
    assert not validmemo.known_valid(None)
    validmemo.remember_valid(None)
    validmemo.flush()
    assert markers() == []


def test_equal_json_values_of_different_types_get_different_keys() -> None:
    keys = {validmemo.key(SCHEMA, {"n": v}) for v in (1, 1.0, True, "1")}
    assert len(keys) == 4  # 4096.0 is not 4096 to the strict integer check


def test_the_cache_stays_small() -> None:
    for i in range(validmemo._TRIM_AT + 5):
        validmemo.remember_valid(validmemo.key(SCHEMA, {"n": i}))
        validmemo.flush()
    assert validmemo._KEEP <= len(markers()) <= validmemo._TRIM_AT
    newest = validmemo.key(SCHEMA, {"n": validmemo._TRIM_AT + 4})
    assert validmemo.known_valid(newest)


def test_an_unwritable_cache_only_costs_the_memo(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert document_problems(SCHEMA, {"n": 3}) == []
    validmemo.flush()  # validated, nothing remembered, no error
    assert not validmemo.known_valid(validmemo.key(SCHEMA, {"n": 3}))


def test_a_dry_run_writes_no_marker_and_a_plan_does(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`apply --check` (Ansible's check mode) promises to write nothing: not even the cache."""
    from tests.cli import hwdocs
    from tests.cli.cliutil import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(
        "version: 1\nbackend: ollama\ntarget: {kind: shell, path: env.sh}\n")
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    code, _out, err = cli(capsys, "apply", "--check", "--hardware", "hw.json", "--auto-approve")
    assert code in (0, 2), err
    assert markers() == [] and not (tmp_path / "env.sh").exists()
    code, _out, err = cli(capsys, "plan", "--hardware", "hw.json")
    assert code == 0, err
    assert len(markers()) == 3  # velollm.yaml, the profile, the hardware document
