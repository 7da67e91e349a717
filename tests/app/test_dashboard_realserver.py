"""The dashboard against a real Ollama, in a real browser: apply with a baseline, restart the
server with the applied file, benchmark and verify; the page then shows the server with its
loaded model, the settings in force and the before/after of the apply, with no script error;
`velollm report` of the same runs renders offline too."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser import dump_dom, screenshot, script_errors
from tests.cli.cliutil import cli
from velollm.app.dashboard import Dashboard
from velollm.cli import dashboard
from velollm.io import runs
from velollm.main import build_parser

CONFIG = """\
version: 1
backend: ollama
profile: balanced
target: {kind: shell}
server:
  num_parallel: 2
  keep_alive: 45m
models:
  - name: tiny
verify:
  model: tiny
"""


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


@pytest.mark.realserver
def test_dashboard_shows_the_server_settings_and_gains(ollama_server,  # type: ignore[no-untyped-def]
                                                       tmp_path: Path, isolated_home: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text(CONFIG)
    before = ollama_server()
    code, _, err = cli(capsys, "apply", "--host", before.base_url, "--auto-approve",
                       "--baseline")
    assert code == 0, err
    after = ollama_server(source=isolated_home / ".config" / "velollm" / "ollama.env.sh")
    cli(capsys, "verify", "--host", after.base_url)  # its exit code: test_apply_verify_realserver
    # verify's rerun against the baseline is the apply's "after" until a benchmark runs
    (pair,) = Dashboard().gains()["applies"]
    assert pair["source"] == "verify"
    assert {c["metric"] for c in pair["comparison"]["comparisons"]} >= {"decode_tps", "ttft_s"}
    code, _, err = cli(capsys, "benchmark", "--host", after.base_url, "--model", "tiny",
                       "--suite", "quick", "--iterations", "5")
    assert code == 0, err
    kept = runs.stored()
    assert [k.run_kind for k in kept] == ["benchmark", "verify", "benchmark"]
    assert kept[0].record["applied"] is None  # the baseline: measured before the apply
    plan_id = kept[2].record["applied"]["plan_id"]
    assert plan_id == kept[1].record["applied"]["plan_id"]

    args = build_parser().parse_args(["dashboard", "--port", "0", "--host", after.base_url,
                                      "--refresh", "1"])
    served = dashboard.start(args)
    try:
        (server,) = _json(served.url + "api/now")["servers"]
        assert server["up"] and server["version"].startswith("0.5.4")
        (model,) = server["models"]
        assert model["name"].startswith("tiny") and model["assumed"]["num_parallel"] == 2
        # The memory model against what this Ollama allocated (tests/core/test_memory_realserver
        # holds it to -0.5 %..+3 %).
        assert abs(model["estimate"]["total"] - model["size"]) / model["size"] < 0.05, model

        config = _json(served.url + "api/configuration")
        rows = {r["env"]: r for r in config["rows"]}
        parallel = rows["OLLAMA_NUM_PARALLEL"]
        assert (parallel["yaml"], parallel["applied"], parallel["observed"],
                parallel["status"], parallel["drift"]) == ("2", "2", "2", "effective", None)

        gains = _json(served.url + "api/gains")
        (pair,) = gains["applies"]
        assert (pair["plan_id"], pair["before"], pair["after"], pair["source"]) == (
            plan_id, kept[0].path.name, kept[2].path.name, "benchmark")
        (verified,) = gains["verify"]
        assert verified["comparisons"] and verified["baseline_started_at"] == \
            kept[0].document["started_at"]

        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(served.url + "metrics", timeout=60) as response:
            metrics = {f.name: f.samples for f in
                       text_string_to_metric_families(response.read().decode())}
        effective = {s.labels["setting"]: s.value for s in metrics["velollm_setting_effective"]}
        assert effective["OLLAMA_NUM_PARALLEL"] == 1.0
        assert metrics["velollm_server_up"][0].value == 1.0

        dom = dump_dom(served.url, tmp_path, budget_ms=4000)
        assert script_errors(dom) == ""
        body = re.search(r"<body[^>]*>", dom)
        assert body is not None
        attrs = dict(re.findall(r'(data-[\w-]+)="([^"]*)"', body.group()))
        assert int(attrs["data-now-updates"]) >= 2, attrs  # refreshed without a reload
        # 3 charts over time, 3 before/after, 1 memory bar
        assert attrs["data-charts-rendered"] == "7", attrs
        names = {b["name"] for b in kept[2].document["benchmarks"]}
        drawn = dict(re.findall(r'id="apply-(\w+)"[^>]*data-drawn="(\d+)"', dom))
        assert drawn["decode_tps"] == str(2 * len(names)), drawn
        assert "OLLAMA_NUM_PARALLEL" in dom and "tiny" in dom
        screenshot(served.url, tmp_path / "dashboard.png", tmp_path, size="1200,2600",
                   budget_ms=4000)
    finally:
        served.stop()

    # The same kept runs as a report file, opened from file:// with networking off.
    page = tmp_path / "report.html"
    code, _, err = cli(capsys, "report", "-o", str(page))
    assert code == 0, err
    dom = dump_dom(page.as_uri(), tmp_path)
    assert script_errors(dom) == ""
    assert 'data-charts-rendered="4"' in dom
    drawn = dict(re.findall(r'id="chart-(\w+)"[^>]*data-drawn="(\d+)"', dom))
    assert drawn["decode_tps"] == str(2 * len(names)), drawn
    screenshot(page.as_uri(), tmp_path / "report.png", tmp_path)
