"""End to end: build the wheel, install it into a fresh venv, run `velollm detect --json` and
`velollm report` elsewhere."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False,
                          **kwargs)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{argv}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc  # type: ignore[no-any-return]


@pytest.mark.slow
def test_wheel_installs_and_detects_outside_the_checkout(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # Build offline when the backend is already here; otherwise pip fetches hatchling itself.
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", *isolation, "-q",
          "-w", str(dist)], cwd=tmp_path)
    (wheel,) = dist.glob("velollm-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("profiles", "templates", "schemas"):
        assert any(n.startswith(f"velollm/{folder}/") for n in names), folder
    assert "velollm/schemas/hardware.schema.json" in names
    assert "velollm/templates/web/vendor/chart.umd.min.js" in names  # the report works offline

    venv = tmp_path / "venv"
    # --system-site-packages: the dependencies are already installed here, nothing to download.
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)])

    work = tmp_path / "elsewhere"
    work.mkdir()
    with socket.socket() as s:  # a loopback port nobody listens on: no real server is probed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{port}", "PYTHONPATH": ""}
    proc = _run([str(venv / "bin" / "velollm"), "detect", "--json"], cwd=work, env=env)
    doc = json.loads(proc.stdout)

    # The installed package must be the one answering, with the schema from inside the wheel.
    code = "import velollm.resources as r; print(r.data_dir('schemas'))"
    where = _run([str(python), "-c", code], cwd=work, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    schema = json.loads((Path(where) / "hardware.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)

    # `velollm report` from the wheel: its page, style and Chart.js come from inside it.
    from tests.report.rundocs import benchmark_doc

    (work / "run.json").write_text(json.dumps(benchmark_doc([100.0] * 5)))
    _run([str(venv / "bin" / "velollm"), "report", "run.json", "-o", "report.html"], cwd=work,
         env=env)
    page = (work / "report.html").read_text(encoding="utf-8")
    assert "Chart.js v4.6.1" in page and "velollmMetricChart" in page
