"""io/runs.py and app/runlog.py: every run kept privately, atomically, with a bounded history."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.report.rundocs import benchmark_doc
from velollm import output
from velollm.app.runlog import keep_run
from velollm.io import runs
from velollm.io.state import State

T0 = datetime(2026, 12, 1, 10, tzinfo=timezone.utc)


def _keep(directory: Path, n: int, limit: int = runs.KEEP) -> list[Path]:
    return [runs.keep(runs.wrap("benchmark", benchmark_doc([float(100 + i)]), applied=None,
                                hardware=None, now=T0 + timedelta(minutes=i)),
                      directory, limit=limit, now=T0 + timedelta(minutes=i)) for i in range(n)]


def test_runs_are_private_and_read_back_oldest_first(tmp_path: Path) -> None:
    paths = _keep(tmp_path, 3)
    folder = runs.runs_dir(tmp_path)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert {stat.S_IMODE(os.stat(p).st_mode) for p in paths} == {0o600}
    kept = runs.stored(tmp_path)
    assert [k.path for k in kept] == paths
    assert [k.document["benchmarks"][0]["samples"][1]["decode_tps"] for k in kept] == \
        [100.0, 101.0, 102.0]
    assert kept[0].record["saved_at"] == "2026-12-01T10:00:00+00:00"
    assert [k.path for k in runs.stored(tmp_path, last=2)] == paths[1:]


def test_a_wider_folder_is_made_private_again(tmp_path: Path) -> None:
    runs.runs_dir(tmp_path).mkdir(mode=0o755)
    _keep(tmp_path, 1)
    assert stat.S_IMODE(os.stat(runs.runs_dir(tmp_path)).st_mode) == 0o700


def test_history_is_bounded_oldest_deleted_first(tmp_path: Path) -> None:
    paths = _keep(tmp_path, 5, limit=3)
    assert [k.path for k in runs.stored(tmp_path)] == paths[2:]
    (runs.runs_dir(tmp_path) / "notes.txt").write_text("mine")  # not a run: left alone
    _keep(tmp_path, 1, limit=3)
    assert (runs.runs_dir(tmp_path) / "notes.txt").exists()


def test_a_damaged_run_is_skipped_not_fatal(tmp_path: Path) -> None:
    first, second = _keep(tmp_path, 2)
    first.write_text("{not json")
    assert [k.path for k in runs.stored(tmp_path)] == [second]


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    ("{oops", "is not JSON"),
    ('{"hello": 1}', "is not a velollm benchmark or verify result"),
    ('[1, 2]', "is not a velollm benchmark or verify result"),
    ('{"kind": "velollm.run", "run_kind": "benchmark"}', "damaged velollm run"),
])
def test_bad_run_files_say_which_and_why(tmp_path: Path, content: str | None,
                                         message: str) -> None:
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(runs.RunFileError, match=message) as info:
        runs.load_record(path)
    assert str(path) in info.value.message


def test_bare_documents_are_recognised(tmp_path: Path) -> None:
    bench = tmp_path / "b.json"
    bench.write_text(json.dumps(benchmark_doc([1.0])))
    record = runs.load_record(bench)
    assert (record["run_kind"], record["hardware"]["cpu"]["model"]) == ("benchmark",
                                                                        "Test CPU 9000")
    verify = tmp_path / "v.json"
    verify.write_text(json.dumps({"status": "ok", "server": {}, "settings": [],
                                  "benchmark": {"status": "skipped"}}))
    assert runs.load_record(verify)["run_kind"] == "verify"


def test_keep_run_records_what_was_applied(tmp_path: Path) -> None:
    from velollm.io.fileops import atomic_write
    from velollm.io.state import FileRecord, state_path

    applied = State(files=(FileRecord("/x/env", "a" * 64),), plan_id="p1",
                    applied_at="20261201T100000000000Z",
                    settings={"env": {"OLLAMA_NUM_PARALLEL": "4"}})
    atomic_write(state_path(tmp_path), applied.to_json().encode())
    path = keep_run("benchmark", benchmark_doc([1.0]), tmp_path)
    assert path is not None
    record = json.loads(path.read_text())
    assert record["applied"]["plan_id"] == "p1"
    assert record["applied"]["settings"]["env"] == {"OLLAMA_NUM_PARALLEL": "4"}
    assert record["hardware"]["cpu"]["model"] == "Test CPU 9000"  # the document's own


def test_a_run_that_cannot_be_kept_is_a_warning(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    output.configure(color="never", verbosity=0, json_mode=False)
    blocked = tmp_path / "state"
    blocked.write_text("a file where the folder should be")
    assert keep_run("verify", {"status": "ok", "hardware": {}}, blocked) is None
    assert "this verify run was not kept" in capsys.readouterr().err
