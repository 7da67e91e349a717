"""The invalid corpus (tests/data/invalid/*.yaml, first line `# expect: [LINE: ]PATH: FRAGMENT`)
and the valid corpus, each through `velollm validate` exactly as a user runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from velollm import main

DATA = Path(__file__).resolve().parent.parent / "data"
INVALID = sorted((DATA / "invalid").glob("*.yaml"))
VALID = sorted((DATA / "valid").glob("*.yaml"))
_EXPECT = re.compile(r"^# expect: (?:(\d+): )?(\S+): (.*)$")


def expectation(case: Path) -> tuple[int | None, str, str]:
    first = case.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    m = _EXPECT.match(first)
    assert m, f"{case.name}: first line must be `# expect: [LINE: ]PATH: FRAGMENT`"
    return (int(m.group(1)) if m.group(1) else None), m.group(2), m.group(3)


def test_corpora_are_not_empty() -> None:
    assert len(INVALID) >= 40
    assert len(VALID) >= 5


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_invalid_case_is_reported_with_path_and_line(
        case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line, path, fragment = expectation(case)
    assert main.main(["validate", str(case)]) == 1
    out, err = capsys.readouterr()
    prefix = f"{case}:{line}: {path}: " if line else f"{case}: {path}: "
    hits = [text for text in out.splitlines() if text.startswith(prefix) and fragment in text]
    assert hits, f"expected a line starting {prefix!r} containing {fragment!r}, got:\n{out}"
    assert "Traceback" not in out + err
    assert "is not valid" in err


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_invalid_case_json_twin(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line, path, fragment = expectation(case)
    assert main.main(["validate", "--json", str(case)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is False and doc["file"] == str(case)
    assert any(e["path"] == path and e["line"] == line and fragment in e["message"]
               for e in doc["errors"]), doc["errors"]


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_valid_case(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["validate", str(case)]) == 0, capsys.readouterr().out
    assert "valid" in capsys.readouterr().out


def test_every_problem_is_reported_at_once(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "velollm.yaml"
    bad.write_text("version: 1\nprofile: nope\nserver:\n  num_gpu: 1\n  keep_alive: forever\n"
                   "  flash_attention: 'yes'\nmodels:\n  - {name: m, num_ctx: -3}\n"
                   "verify: {iterations: 0}\n", encoding="utf-8")
    assert main.main(["validate", "--json", str(bad)]) == 1
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert [(e["path"], e["line"]) for e in errors] == [
        ("$.profile", 2), ("$.server.num_gpu", 4), ("$.server.keep_alive", 5),
        ("$.server.flash_attention", 6), ("$.models[0].num_ctx", 8),
        ("$.verify.iterations", 9)]


def test_nothing_is_written_for_an_invalid_file(tmp_path: Path) -> None:
    case = tmp_path / "velollm.yaml"
    case.write_bytes((DATA / "invalid" / "python_tag.yaml").read_bytes())
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main.main(["validate", str(case)]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not Path("/tmp/velollm-pwned").exists()
