"""verify without a server: baselines on disk, evidence parsing, exit codes, the CLI's errors."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.realserver import free_port
from velollm.app import verification
from velollm.backends.ollama import current as ollama_current
from velollm.backends.ollama import evidence as ollama_evidence
from velollm.backends.ollama import logs as ollama_logs
from velollm.backends.ollama.current import ServerProcess
from velollm.backends.ollama.targets import render_target
from velollm.bench import baseline
from velollm.core import effect
from velollm.errors import ConfigError
from velollm.io import processes
from velollm.io.fileops import apply_files, atomic_write
from velollm.io.state import load_state
from velollm.io.xdg import state_dir
from velollm.main import main


def _doc(decode: list[float], ttft: list[float], aggregate: list[float]) -> dict[str, Any]:
    samples = [{"ok": True, "warmup": False, "decode_tps": d, "ttft_s": t, "prefill_tps": None}
               for d, t in zip(decode, ttft, strict=True)]
    samples.append({"ok": True, "warmup": True, "decode_tps": 1.0, "ttft_s": 9.0})
    return {"model": "tiny", "started_at": "2026-11-24T10:00:00+00:00",
            "suite": {"name": "quick", "iterations": len(decode), "warmup": 1},
            "benchmarks": [{"name": "short_completion", "concurrency": 1, "samples": samples,
                            "rounds": []},
                           {"name": "concurrent", "concurrency": 3, "samples": [],
                            "rounds": [{"aggregate_tps": a} for a in aggregate]}]}


def test_baseline_round_trip_and_missing(tmp_path: Path) -> None:
    assert baseline.load_baseline(tmp_path / "none.json") is None
    assert baseline.baseline_path() == state_dir() / "baseline.json"
    doc = _doc([100.0, 101.0], [0.01, 0.011], [300.0, 310.0])
    atomic_write(baseline.baseline_path(), json.dumps(doc).encode())
    assert baseline.load_baseline() == doc
    suite = baseline.suite_of(doc, iterations=4)
    assert (suite.name, suite.iterations) == ("quick", 4)
    assert max(s.concurrency for s in suite.scenarios) == 3  # the baseline's, like for like


@pytest.mark.parametrize("text", ["{not json", "[]", '{"model": "tiny"}'])
def test_damaged_baseline_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        baseline.load_baseline(path)
    assert str(path) in err.value.message


def test_compare_documents_verdicts() -> None:
    before = _doc([100.0, 101.0, 99.0, 100.5, 100.2], [0.010] * 5,
                  [300.0, 301.0, 299.0, 302.0, 298.0])
    slower = _doc([50.0, 51.0, 49.0, 50.5, 50.2], [0.020] * 5, [150.0, 151.0, 149.0, 152.0, 148.0])
    got = {(c.benchmark, c.metric): c for c in
           baseline.compare_documents(before, slower, max_regression=0.05)}
    assert got[("short_completion", "decode_tps")].verdict.status == "regressed"
    assert got[("short_completion", "decode_tps")].before == 100.2
    assert got[("short_completion", "ttft_s")].verdict.status == "regressed"  # lower is better
    assert got[("concurrent", "aggregate_tps")].verdict.status == "regressed"
    assert ("short_completion", "prefill_tps") not in got  # never measured: not compared
    assert baseline.overall(list(got.values())) == "regressed"
    same = baseline.compare_documents(before, before, max_regression=0.05)
    assert baseline.overall(same) == "no_regression"
    assert baseline.overall([]) == "inconclusive"


def test_too_few_samples_is_inconclusive_never_a_verdict() -> None:
    # Two runs each, half the speed: the bootstrap interval of 2 values looks confirmed, but two
    # samples cannot confirm anything on a shared machine.
    few = baseline.compare_documents(_doc([100.0, 101.0], [0.01, 0.01], [300.0, 301.0]),
                                     _doc([50.0, 51.0], [0.02, 0.02], [150.0, 151.0]), 0.05)
    assert few and all(c.verdict.status == "inconclusive" for c in few)
    assert all("at least 5" in c.note for c in few)
    assert baseline.overall(few) == "inconclusive"


def _effect(status: effect.Status) -> effect.Effect:
    return effect.Effect("OLLAMA_NUM_PARALLEL", "2", "2", status, "")


@pytest.mark.parametrize(("statuses", "bench", "code"), [
    (["effective"], "no_regression", 0),
    (["effective", "unknown"], "inconclusive", 0),
    (["effective"], None, 0),
    (["effective"], "regressed", verification.EXIT_REGRESSED),
    (["effective", "not effective"], "improved", verification.EXIT_NOT_EFFECTIVE),
    (["not effective"], "regressed", verification.EXIT_NOT_EFFECTIVE),
])
def test_exit_code_mapping(statuses: list[effect.Status], bench: str | None, code: int) -> None:
    assert verification.exit_code([_effect(s) for s in statuses], bench) == code
    assert (verification.EXIT_NOT_EFFECTIVE, verification.EXIT_REGRESSED) == (4, 5)


def test_log_durations_compare_by_value() -> None:
    logged = {"OLLAMA_KEEP_ALIVE": "30m0s", "OLLAMA_NUM_PARALLEL": "2"}
    assert ollama_logs.normalize_log(logged, {"OLLAMA_KEEP_ALIVE": "30m"}) == {
        "OLLAMA_KEEP_ALIVE": "30m", "OLLAMA_NUM_PARALLEL": "2"}
    forever = {"OLLAMA_KEEP_ALIVE": "2562047h47m16.854775807s"}
    assert ollama_logs.normalize_log(forever, {"OLLAMA_KEEP_ALIVE": "-1"}) == {
        "OLLAMA_KEEP_ALIVE": "-1"}
    assert ollama_logs.normalize_log(logged, {"OLLAMA_KEEP_ALIVE": "5m"}) == logged


def test_match_server_by_port() -> None:
    a = ServerProcess(10, ("ollama", "serve"), {"OLLAMA_HOST": "127.0.0.1:40001"})
    b = ServerProcess(11, ("ollama", "serve"), {"OLLAMA_HOST": "0.0.0.0:40002"})
    default = ServerProcess(12, ("ollama", "serve"), {})
    hidden = ServerProcess(13, ("ollama", "serve"), None)
    assert ollama_current.match_server([a, b], "http://127.0.0.1:40002") is b
    assert ollama_current.match_server([a, b, default], "http://localhost:11434") is default
    assert ollama_current.match_server([a, b], "http://127.0.0.1:40003") is None
    assert ollama_current.match_server([hidden], "http://127.0.0.1:11434") is hidden
    assert ollama_current.match_server([hidden, a], "http://127.0.0.1:11434") is None
    assert ollama_current.match_server([hidden], "http://10.1.2.3:11434") is None


def test_restarted_since() -> None:
    assert processes.restarted_since(5.0, [10.0, 60.0]) is True  # started after the file
    assert processes.restarted_since(20.0, [10.0]) is False
    assert processes.restarted_since(10.01, [10.0]) is None  # too close to tell
    assert processes.restarted_since(None, [10.0]) is None
    assert processes.restarted_since(5.0, []) is None


def test_process_age_of_this_process() -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("no /proc on this platform")
    age = processes.process_age_s(os.getpid())
    assert age is not None and age > 0
    started = time.time() - age
    import psutil  # an independent reading of the same fact
    assert started == pytest.approx(psutil.Process().create_time(), abs=1.5)
    assert processes.process_age_s(2**31 - 1) is None


def test_runner_parallel_from_the_last_start() -> None:
    log = ('msg="server config" env="map[OLLAMA_NUM_PARALLEL:4]"\n'
           'msg="starting llama server" cmd="runner --model m --ctx-size 8192 --parallel 4 --port 1"\n'
           'msg="server config" env="map[OLLAMA_NUM_PARALLEL:1]"\n')
    assert ollama_logs.runner_parallel(log) is None  # the runner line belongs to the old start
    log += 'msg="starting llama server" cmd="runner --ctx-size 2048 --parallel 1 --port 2"\n'
    assert ollama_logs.runner_parallel(log) == 1


def _apply_shell(env: dict[str, str]) -> Path:
    path = Path.home() / ".config" / "velollm" / "ollama.env.sh"
    apply_files(render_target("shell", env, path=path),
                settings={"env": env, "target": "shell", "models": {}})
    return path


def test_nothing_applied_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--host", "http://127.0.0.1:9", "--skip-benchmark"]) == 1
    assert "has not applied" in capsys.readouterr().err


def test_server_down_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    _apply_shell({"OLLAMA_NUM_PARALLEL": "2"})
    assert load_state().settings["target"] == "shell"
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["verify", "--host", url, "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "error"
    assert "not reachable" in doc["errors"][0]["message"] and url in doc["errors"][0]["message"]


def test_keep_alive_overridden_by_a_later_expiry() -> None:
    now = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    in_20m = "2027-01-15T08:20:00.123456789Z"
    in_2h = "2027-01-15T10:00:00.5+00:00"
    assert not ollama_evidence.keep_alive_overridden("30m", in_20m, now)
    assert ollama_evidence.keep_alive_overridden("30m", in_2h, now)
    assert ollama_evidence.keep_alive_overridden("600", in_20m, now)  # whole seconds
    assert not ollama_evidence.keep_alive_overridden("-1", in_2h, now)  # forever is never exceeded
    assert not ollama_evidence.keep_alive_overridden("30m", "not a time", now)
