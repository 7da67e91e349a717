"""app/dashboard.py: the panels' data, from scripted sources (the real server is in
test_dashboard_realserver.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.report.rundocs import HARDWARE, benchmark_doc
from velollm.app.dashboard import Dashboard, capacity, settings_rows
from velollm.backends import get_backend
from velollm.io import runs
from velollm.io.fileops import atomic_write
from velollm.io.state import FileRecord, State, state_path


def test_rows_show_yaml_applied_and_server_with_drift() -> None:
    backend = get_backend("ollama")
    wanted = {"num_parallel": 4, "keep_alive": "45m", "context_length": "auto"}
    applied = {"OLLAMA_NUM_PARALLEL": "2", "OLLAMA_KEEP_ALIVE": "45m"}
    checked = [{"env": "OLLAMA_NUM_PARALLEL", "observed": "2", "status": "effective", "why": ""},
               {"env": "OLLAMA_KEEP_ALIVE", "observed": "5m", "status": "not effective",
                "why": "the server has not restarted since"}]
    rows = {r["env"]: r for r in settings_rows(backend, wanted, applied, checked)}
    assert rows["OLLAMA_NUM_PARALLEL"]["yaml"] == "4"
    assert "velollm.yaml changed since the last apply" in rows["OLLAMA_NUM_PARALLEL"]["drift"]
    assert rows["OLLAMA_KEEP_ALIVE"]["drift"] == ("the server does not have it: the server has "
                                                 "not restarted since")
    assert rows["OLLAMA_CONTEXT_LENGTH"]["yaml"] == "auto"  # the optimizer's choice: no drift
    assert rows["OLLAMA_CONTEXT_LENGTH"]["drift"] is None


def test_capacity_is_the_gpus_memory_else_the_ram() -> None:
    assert capacity(HARDWARE) == {"kind": "GPU memory", "bytes": 24 * 2**30}
    assert capacity({**HARDWARE, "gpus": []}) == {"kind": "RAM", "bytes": 32 * 2**30}
    assert capacity(None) is None


def _free_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_server_that_is_down_is_data_not_an_error() -> None:
    now = Dashboard(host=_free_url()).now()
    (server,) = now["servers"]
    assert server["up"] is False
    assert "Ollama is not reachable at" in server["error"]
    assert server["models"] == []
    assert now["throughput"] is None


def test_now_lists_the_loaded_models_with_the_memory_model(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.4"})
    httpserver.expect_request("/api/ps").respond_with_json({"models": [
        {"name": "llama3.2:3b", "model": "llama3.2:3b", "size": 4 * 2**30,
         "size_vram": 3 * 2**30, "expires_at": "2026-12-01T10:05:00Z", "digest": "d",
         "details": {}}]})
    httpserver.expect_request("/api/tags").respond_with_json({"models": []})
    runs.keep(runs.wrap("benchmark", benchmark_doc([100.0] * 5), applied=None, hardware=None))
    now = Dashboard(host=httpserver.url_for("/").rstrip("/"), hardware=HARDWARE).now()
    (server,) = now["servers"]
    assert (server["up"], server["version"]) == (True, "0.5.4")
    (model,) = server["models"]
    assert (model["size_vram"], model["size_cpu"]) == (3 * 2**30, 2**30)
    # Not on the server's tags: sized from velollm's shipped table, as plan does.
    assert model["estimate"]["weights"] > 0 and model["estimate"]["kv_cache"] > 0
    assert model["assumed"] == {"num_ctx": 2048, "num_parallel": 1, "kv_cache_type": "f16"}
    assert now["throughput"]["summary"]["average_tokens_per_s"] == pytest.approx(100.0)
    assert now["capacity"]["kind"] == "GPU memory"


def test_configuration_reads_yaml_state_and_reports_a_bad_yaml(tmp_path: Path,
                                                               isolated_home: Path) -> None:
    state = State(files=(FileRecord(str(tmp_path / "env.sh"), "0" * 64, "shell"),),
                  plan_id="p1", applied_at="20261201T100000000000Z",
                  settings={"backend": "ollama", "target": "shell",
                            "env": {"OLLAMA_NUM_PARALLEL": "2"}})
    atomic_write(state_path(), state.to_json().encode())
    config = tmp_path / "velollm.yaml"
    config.write_text("version: 1\nbackend: ollama\nserver:\n  num_parallel: 4\n")
    board = Dashboard(host=_free_url(), config=config)
    c = board.configuration()
    (row,) = [r for r in c["rows"] if r["env"] == "OLLAMA_NUM_PARALLEL"]
    assert (row["yaml"], row["applied"], row["status"]) == ("4", "2", "unknown")
    assert c["drift"] is True
    assert c["status"]["files"][0]["drift"] == "missing"
    config.write_text("version: 1\nserver: [\n")
    assert "velollm.yaml" in (board.configuration()["wants"]["error"] or "")


def test_gains_from_the_kept_runs() -> None:
    for values, plan in (([100.0] * 5, None), ([120.0] * 5, "p1")):
        applied = None if plan is None else {"plan_id": plan, "applied_at": "x", "settings": {}}
        runs.keep(runs.wrap("benchmark", benchmark_doc(values), applied=applied, hardware=None))
    g = Dashboard().gains()
    assert g["count"] == 2
    assert len(g["timeline"]["runs"]) == 2
    (pair,) = g["applies"]
    assert pair["plan_id"] == "p1"


def test_a_llamacpp_config_without_its_client_is_reported_not_fatal(tmp_path: Path) -> None:
    config = tmp_path / "velollm.yaml"
    config.write_text("version: 1\nbackend: llamacpp\nserver:\n  binary: auto\n"
                      "  host: 127.0.0.1:8080\n  parallel: 2\n  kv_cache_type: q8_0\n")
    board = Dashboard(config=config)
    (server,) = board.now()["servers"]
    assert server["backend"] == "llama.cpp" and server["up"] is False
    rows = board.configuration()["rows"]
    # binary and host are not settings; nothing applied yet: no drift
    assert [(r["env"], r["yaml"], r["drift"]) for r in rows] == [
        ("LLAMA_ARG_N_PARALLEL", "2", None)]
