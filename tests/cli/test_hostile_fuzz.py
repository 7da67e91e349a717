"""Issue 15 beyond the named cases: seeded random mutations of a saved plan and of state.json
(any field replaced by null, a number, text, a path, a list, an object, a NUL...). Whatever the
mutation, velollm never crashes (exit 3), and a saved plan it accepts is exactly the untouched
one: the files it would write are the derivation's, byte for byte."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm.io.xdg import state_dir

CONFIG = """\
version: 1
backend: ollama
target: {kind: shell}
server: {keep_alive: 30m}
models:
  - name: llama3.1:8b
    num_ctx: 4096
"""
HW = ("--hardware", "hw.json")
VALUES: list[Any] = [None, True, 0, -1, 1.5, "", "x", "/etc/passwd", "../../x", "\u0000", [],
                     [1], ["a"], {}, {"a": 1}, 10**30, 0o4777]
MUTATIONS = 60


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    return tmp_path


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, inner in items:
        yield from _paths(inner, (*prefix, key))


def _mutated(good: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    doc = copy.deepcopy(good)
    paths = list(_paths(good))
    for _ in range(rng.randint(1, 3)):
        where: Any = doc
        path = rng.choice(paths)
        try:
            for key in path[:-1]:
                where = where[key]
            where[path[-1]] = copy.deepcopy(rng.choice(VALUES))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation replaced a parent
    return doc


@pytest.mark.parametrize("seed", [1, 2])
def test_a_mutated_plan_never_crashes_and_only_the_derivation_is_accepted(
        seed: int, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "plan", *HW, "--out", "good.json")[0] == 0
    good = json.loads(Path("good.json").read_text())
    wanted = {f["path"]: f["content"] for f in good["files"]}
    rng = random.Random(seed)
    for _ in range(MUTATIONS):
        doc = _mutated(good, rng)
        Path("p.json").write_text(json.dumps(doc))
        code, out, err = cli(capsys, "apply", "p.json", "--check", "--json")
        assert code in (0, 1), f"exit {code} for {json.dumps(doc)[:500]}\n{err}"
        if code == 0:
            assert {d["path"]: d["after"] for d in json.loads(out)["diff"]} == wanted
        else:
            assert "error:" in err and "Traceback" not in err
    assert not (state_dir() / "logs").exists()


@pytest.mark.parametrize("seed", [1, 2])
def test_a_mutated_state_never_crashes(seed: int, project: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "apply", *HW, "--auto-approve")[0] == 0
    state = state_dir() / "state.json"
    good = json.loads(state.read_text())
    rng = random.Random(seed)
    for _ in range(MUTATIONS // 3):
        doc = _mutated(good, rng)
        state.write_text(json.dumps(doc))
        for argv in (("plan", *HW), ("status",), ("destroy", "--check"),
                     ("apply", *HW, "--check")):
            code, _, err = cli(capsys, *argv)
            assert code in (0, 1), f"{argv}: exit {code} for {json.dumps(doc)[:500]}\n{err}"
            assert "Traceback" not in err
    assert not (state_dir() / "logs").exists()
