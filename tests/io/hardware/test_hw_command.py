"""`velollm detect` on THIS machine: human report, --json validated against the shipped schema."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from velollm import main
from velollm.resources import load_schema

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def no_real_server(monkeypatch: pytest.MonkeyPatch) -> str:
    """Point OLLAMA_HOST at a loopback port nobody listens on: never probe a real server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    return f"http://127.0.0.1:{port}"


def test_json_via_main_validates(capsys: pytest.CaptureFixture[str], no_real_server: str) -> None:
    assert main.main(["detect", "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    jsonschema.Draft202012Validator(load_schema("hardware.schema.json")).validate(doc)
    assert doc["kind"] == "velollm.hardware" and doc["format_version"] == 1
    assert doc["ollama"]["host"] == no_real_server and not doc["ollama"]["server_reachable"]
    assert doc["memory"]["total_bytes"] > 0
    assert {p["name"] for p in doc["probes"]} >= {"cpu", "memory", "os", "ollama"}


def test_json_via_subprocess_validates() -> None:
    proc = subprocess.run([sys.executable, "-m", "velollm", "detect", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=os.environ.copy(),
                          check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(load_schema("hardware.schema.json")).validate(doc)
    assert "Traceback" not in proc.stderr


def test_human_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["detect"]) == 0
    out = capsys.readouterr().out
    for label in ("GPU", "CPU", "Memory", "OS", "Ollama"):
        assert any(line.startswith(label) for line in out.splitlines()), label
    assert "GiB total" in out and "probe" not in out


def test_verbose_lists_every_probe_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["detect", "-v", "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert "probe nvml" in out or "probe system_profiler" in out
    assert "probe ollama-server" in out and "nothing listens at" in out


def test_gpu_line_shows_vram_in_gib() -> None:
    from velollm.cli.detect import gpu_line
    from velollm.io.hardware import Gpu, Pcie

    gpu = Gpu(index=0, vendor="nvidia", name="NVIDIA H100 80GB HBM3", source="nvml",
              vram_total_bytes=80 * 1024**3, vram_free_bytes=79 * 1024**3,
              driver_version="550.54.15", compute_capability="9.0",
              memory_bandwidth_gbps=3352.3, pcie=Pcie(5, 16))
    assert gpu_line(gpu) == ("0 NVIDIA H100 80GB HBM3 [nvidia, nvml], 80.0 GiB VRAM, 79.0 GiB free, "
                             "driver 550.54.15, compute 9.0, 3352 GB/s, PCIe 5 x16")


def test_detect_does_not_load_heavy_libraries_when_no_server_listens() -> None:
    # Import hygiene, not timing: requests only loads when a port answers, psutil only off Linux,
    # pynvml only with an NVIDIA driver present, jsonschema only when a document is read back.
    code = ("import sys, json; import velollm.cli.detect; from velollm.io.hardware import detect;"
            " detect(timeout=1.0); print(json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True)
    loaded = {name.split(".")[0] for name in json.loads(proc.stdout)}
    heavy = {"requests", "urllib3", "jsonschema", "jinja2", "deepdiff", "yaml"}
    if sys.platform == "linux":
        heavy.add("psutil")
    if not Path("/proc/driver/nvidia").exists():
        heavy.add("pynvml")
    assert loaded.isdisjoint(heavy), sorted(loaded & heavy)
