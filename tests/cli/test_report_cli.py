"""`velollm report`: the file is valid HTML, self-contained, and says what the runs measured."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import html5lib
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.cli.cliutil import cli
from tests.report.rundocs import benchmark_doc
from velollm.io import runs

SLOW = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8]
FAST = [120.0, 121.0, 119.0, 120.5, 119.5, 120.2, 119.8]


def _write(tmp_path: Path, name: str, doc: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def parse(text: str) -> object:
    """A strict HTML5 parse: any parse error (a stray tag, a broken attribute) fails the test."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)


def inline_scripts(tree: object) -> list[str]:
    return [s.text or "" for s in tree.iter("script")  # type: ignore[attr-defined]
            if s.get("type") != "application/json"]


def check_javascript(scripts: list[str], tmp_path: Path) -> None:
    """Each inline script parses (node --check); skipped where node is not installed."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the scripts' syntax is checked by the browser test")
    for i, code in enumerate(scripts):
        path = tmp_path / f"script{i}.js"
        path.write_text(code)
        done = subprocess.run([node, "--check", str(path)], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stderr


def test_report_is_one_valid_self_contained_file(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    a = _write(tmp_path, "before.json", benchmark_doc(SLOW, aggregate=[300.0, 310.0, 290.0]))
    b = _write(tmp_path, "after.json", benchmark_doc(FAST, started_at="2026-12-02T10:00:00Z",
                                                      aggregate=[330.0, 340.0, 320.0]))
    out = tmp_path / "report.html"
    code, _, err = cli(capsys, "report", str(a), str(b), "-o", str(out))
    assert code == 0, err
    assert f"wrote {out}" in err
    tree = parse(out.read_text(encoding="utf-8"))
    # Nothing fetched from anywhere: no src= or href= to a file or a network.
    linked = [(el.tag, el.get("src") or el.get("href")) for el in tree.iter()  # type: ignore[attr-defined]
              if el.get("src") or el.get("href")]
    assert linked == []
    text = " ".join(tree.itertext())  # type: ignore[attr-defined]
    assert "Test CPU 9000" in text and "RTX 4090" in text and "num_ctx 4096" in text
    assert "improved" in text  # after.json against before.json, decode
    # The tables show the medians and their intervals.
    cells = [td.text for td in tree.iter("td")]  # type: ignore[attr-defined]
    assert "100.0" in cells and "120.0" in cells
    canvases = {c.get("id") for c in tree.iter("canvas")}  # type: ignore[attr-defined]
    assert canvases == {"chart-decode_tps", "chart-prefill_tps", "chart-ttft_s",
                        "chart-aggregate_tps"}


def test_inline_scripts_parse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    run = _write(tmp_path, "a.json", benchmark_doc(SLOW))
    assert cli(capsys, "report", str(run), "-o", str(out))[0] == 0
    scripts = inline_scripts(parse(out.read_text(encoding="utf-8")))
    assert len(scripts) == 4  # the error catcher, Chart.js, velollm's charts, the page's own
    check_javascript(scripts, tmp_path)


def test_json_twin_is_the_data_embedded_in_the_page(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    a = _write(tmp_path, "a.json", benchmark_doc(SLOW))
    code, out, _ = cli(capsys, "report", str(a), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "ok" and doc["kind"] == "velollm.report"
    page = tmp_path / "r.html"
    assert cli(capsys, "report", str(a), "-o", str(page))[0] == 0
    tree = parse(page.read_text(encoding="utf-8"))
    (embedded,) = [s.text for s in tree.iter("script")  # type: ignore[attr-defined]
                   if s.get("id") == "velollm-data"]
    assert json.loads(embedded)["figures"] == doc["figures"]


def test_markup_in_a_run_cannot_break_the_page(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    doc = benchmark_doc(SLOW, model="</script><script>alert(1)</script>")
    page = tmp_path / "r.html"
    assert cli(capsys, "report", str(_write(tmp_path, "a.json", doc)), "-o", str(page))[0] == 0
    html = page.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html
    tree = parse(html)
    assert "</script><script>alert(1)</script>" in " ".join(tree.itertext())  # type: ignore[attr-defined]


@pytest.mark.parametrize(("content", "message"), [
    ("not json at all", "is not JSON"),
    ('{"model": 3}', "is not a velollm benchmark or verify result"),
])
def test_a_bad_file_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       content: str, message: str) -> None:
    good = _write(tmp_path, "good.json", benchmark_doc(SLOW))
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "r.html"
    code, _, err = cli(capsys, "report", str(good), str(bad), "-o", str(out))
    assert code == 1
    assert message in err and str(bad) in err
    assert "Traceback" not in err
    assert not out.exists()


def test_without_files_it_reports_the_kept_runs(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    code, _, err = cli(capsys, "report", "-o", str(tmp_path / "r.html"))
    assert code == 1 and "velollm has kept none yet" in err
    for i in range(3):
        runs.keep(runs.wrap("benchmark", benchmark_doc([float(100 + i)] * 5), applied=None,
                            hardware=None))
    code, out, _ = cli(capsys, "report", "--last", "2", "--json")
    assert code == 0
    assert [r["id"] for r in json.loads(out)["runs"]] == ["r1", "r2"]
    assert {f["median"] for f in json.loads(out)["figures"] if f["metric"] == "decode_tps"} == \
        {101.0, 102.0}


def _ollama(httpserver: HTTPServer) -> str:
    """Just enough of Ollama's API for one short benchmark (the real server is in
    test_dashboard_realserver.py)."""
    done = {"done": True, "done_reason": "length", "total_duration": 900000,
            "load_duration": 100000, "prompt_eval_count": 9, "prompt_eval_duration": 1000000,
            "eval_count": 32, "eval_duration": 2000000}

    def stream(_request: Request) -> Response:
        return Response("".join(json.dumps(x) + "\n" for x in
                                [{"response": "x", "done": False}] * 3 + [done]))

    httpserver.expect_request("/api/version").respond_with_json({"version": "0.5.4"})
    httpserver.expect_request("/api/show").respond_with_json({"parameters": "num_ctx 2048"})
    httpserver.expect_request("/api/ps").respond_with_json({"models": []})
    httpserver.expect_request("/api/generate").respond_with_handler(stream)
    return httpserver.url_for("/").rstrip("/")


def test_every_benchmark_run_is_kept(httpserver: HTTPServer,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    url = _ollama(httpserver)
    for _ in range(2):
        code, _, err = cli(capsys, "benchmark", "--host", url, "--model", "m",
                           "--suite", "short_completion", "--iterations", "2")
        assert code == 0, err
    kept = runs.stored()
    assert [k.run_kind for k in kept] == ["benchmark", "benchmark"]
    assert kept[0].document["model"] == "m"
    assert kept[0].record["hardware"] is not None  # detected by the benchmark, kept with it
