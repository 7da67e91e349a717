#!/usr/bin/env python3
"""Wall time of an offline `velollm plan --hardware FILE` (target: median <= 0.3 s on 2 cores).

Plans for an RTX 4090 workstation with three models from velollm's table, in a scratch HOME, so
nothing is contacted and nothing of the real machine is read. Exit codes 0 and 2 both count as
success (2 = --detailed-exitcode with changes). Usage: python3 benchmarks/plan_speed.py [-n 15]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
version: 1
backend: ollama
profile: balanced
target: {kind: shell}
models:
  - name: llama3.1:8b
  - name: qwen2.5:14b
  - name: llama3.2:3b
"""
GIB = 2**30


def hardware() -> dict[str, object]:
    gpu = {"index": 0, "vendor": "nvidia", "name": "NVIDIA GeForce RTX 4090", "uuid": None,
           "vram_total_bytes": 24 * GIB, "vram_free_bytes": 23 * GIB, "unified_memory": False,
           "driver_version": "550.54.15", "compute_capability": "8.9",
           "memory_bus_width_bits": 384, "memory_clock_max_mhz": 10501,
           "memory_bandwidth_gbps": 1008.0, "pcie": {"generation": 4, "width": 16},
           "source": "nvml", "notes": []}
    return {"format_version": 1, "kind": "velollm.hardware", "velollm_version": "0.1.0",
            "gpus": [gpu],
            "cpu": {"model": "AMD Ryzen 9 7950X", "arch": "x86_64", "physical_cores": 16,
                    "logical_threads": 32, "max_frequency_mhz": 5700.0, "flags": ["avx2"]},
            "memory": {"total_bytes": 64 * GIB, "available_bytes": 48 * GIB,
                       "swap_total_bytes": 0},
            "os": {"system": "linux", "release": "6.8", "kernel": "6.8.0", "arch": "x86_64",
                   "container": None, "wsl": False},
            "ollama": {"installed": True, "path": "/usr/local/bin/ollama", "version": "0.12.4",
                       "host": "http://127.0.0.1:11434", "server_reachable": False,
                       "server_version": None, "managed_by": "none", "systemd_unit": None,
                       "systemd_dropins": []},
            "probes": []}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--runs", type=int, default=15)
    args = parser.parse_args()
    exe = shutil.which("velollm")
    argv = [exe] if exe else [sys.executable, "-m", "velollm"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "velollm.yaml").write_text(CONFIG)
        (work / "hw.json").write_text(json.dumps(hardware()))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(HOME=str(work / "home"), XDG_STATE_HOME=str(work / "state"))
        cmd = [*argv, "plan", "--hardware", "hw.json", "--detailed-exitcode"]
        walls = []
        for i in range(args.runs + 1):
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, check=False)
            elapsed = time.perf_counter() - start
            if proc.returncode not in (0, 2):
                sys.stderr.write(proc.stderr.decode())
                return 1
            if i:  # the first run writes the .pyc files
                walls.append(elapsed)
    median = statistics.median(walls)
    print(f"velollm plan --hardware (offline, 3 models): median {median * 1000:.0f} ms, "
          f"min {min(walls) * 1000:.0f} ms, max {max(walls) * 1000:.0f} ms over {args.runs} runs"
          f"  (target <= 300 ms: {'met' if median <= 0.3 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
