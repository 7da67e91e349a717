"""The report file in a real browser (tests/browser.py), from file:// with networking off:
the charts draw every bar the runs measured, and no script fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.browser import dump_dom, screenshot, script_errors
from tests.cli.cliutil import cli
from tests.report.rundocs import benchmark_doc

SLOW = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8]
FAST = [120.0, 121.0, 119.0, 120.5, 119.5, 120.2, 119.8]


def test_report_renders_offline_without_errors(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    files = []
    for name, values, day in (("before", SLOW, 1), ("after", FAST, 2)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(benchmark_doc(values, aggregate=[300.0, 310.0, 290.0],
                                                 started_at=f"2026-12-0{day}T10:00:00Z")))
        files.append(str(path))
    page = tmp_path / "report.html"
    assert cli(capsys, "report", *files, "-o", str(page))[0] == 0
    dom = dump_dom(page.as_uri(), tmp_path)
    assert script_errors(dom) == ""
    assert 'data-charts-rendered="4"' in dom
    # Each chart laid out one bar per run and benchmark it has figures for.
    drawn = dict(re.findall(r'id="chart-(\w+)"[^>]*data-drawn="(\d+)"', dom))
    assert drawn == {"decode_tps": "4", "prefill_tps": "4", "ttft_s": "4",
                     "aggregate_tps": "2"}
    screenshot(page.as_uri(), tmp_path / "report.png", tmp_path)
