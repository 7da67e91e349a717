#!/usr/bin/env python3
"""Wall time and peak memory of an offline `velollm plan --hardware FILE` against the number of
models, beside the bare interpreter, in one run (issue 19's targets: <= 200 ms for one model,
<= 5 ms more per extra model up to 50, peak RSS <= 40 MiB).

Each configuration is an Ollama velollm.yaml for an RTX 4090 workstation (the hardware comes from
the document, so nothing is detected or contacted), in a scratch HOME and XDG tree, with a shell
target beside it that does not exist yet (every setting an addition). Two more runs of the
one-model plan: against a shell file that holds other values (the plan compares them with
deepdiff), and with velollm.yaml just edited (its schema check not remembered: jsonschema). The first 18
models are velollm's table (each sized by the memory model); more models are names the table
does not know, each with a num_ctx (listed, diffed and noted, not sized). All commands take
turns, one run of each per round, so a noisy neighbour slows all of them alike; the first round
warms the .pyc files and velollm's caches (a user's second plan). Exit codes 0 and 2 (changes)
count as success.

usage: python3 benchmarks/plan_speed.py [-n 15] [--models 1,2,5,10,20,50]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from velollm.core.models import known_models

GIB = 2**30


def config(models: int) -> str:
    known = known_models()
    lines = ["version: 1", "backend: ollama", "profile: balanced",
             "target: {kind: shell, path: ollama.env.sh}", "models:"]
    for i in range(models):
        if i < len(known):
            lines.append(f"  - name: {known[i]}")
        else:
            lines += [f"  - name: bench-model-{i}:7b", f"    num_ctx: {4096 + i}"]
    return "\n".join(lines) + "\n"


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


def run_once(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """(wall ms, peak RSS KiB) of one child; os.wait4 gives the child's own ru_maxrss."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = (time.perf_counter() - start) * 1000
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{shlex.join(argv)} in {cwd} exited {code}: {err}")
    if proc.stderr:
        proc.stderr.close()
    return elapsed, usage.ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=15)
    parser.add_argument("--models", default="1,2,5,10,18,50",
                        help="model counts, comma-separated (default: 1,2,5,10,18,50; the "
                             "table has 18 models)")
    args = parser.parse_args()
    counts = [int(c) for c in args.models.split(",")]
    beside = Path(sys.executable).parent / "velollm"  # the same environment's console script
    velollm = [str(beside)] if beside.exists() else [sys.executable, "-m", "velollm"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "hw.json").write_text(json.dumps(hardware()))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(HOME=str(work / "home"), XDG_CONFIG_HOME=str(work / "config"),
                   XDG_STATE_HOME=str(work / "state"), XDG_CACHE_HOME=str(work / "cache"))
        commands: dict[str, tuple[list[str], Path]] = {
            "python3 -c pass": ([sys.executable, "-c", "pass"], work)}
        for n in counts:
            folder = work / f"models-{n}"
            folder.mkdir()
            (folder / "velollm.yaml").write_text(config(n))
            commands[f"plan, {n} model{'s' if n > 1 else ''}"] = (
                [*velollm, "plan", "--hardware", str(work / "hw.json"), "--detailed-exitcode"],
                folder)
        one_model = commands[list(commands)[1]]
        # Settings applied earlier with other values: the plan compares them (deepdiff).
        changing = f"plan, {counts[0]}, changing"
        folder = work / "changing"
        folder.mkdir()
        (folder / "velollm.yaml").write_text(config(counts[0]))
        (folder / "ollama.env.sh").write_text("export OLLAMA_NUM_PARALLEL=1\n"
                                              "export OLLAMA_KEEP_ALIVE=5m\n")
        commands[changing] = (one_model[0], folder)
        # A velollm.yaml just edited: nothing of it is remembered yet (io/validmemo.py), so
        # this run pays for jsonschema; every round gets an empty cache.
        edited = f"plan, {counts[0]}, just edited"
        commands[edited] = one_model
        walls: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, list[int]] = {name: [] for name in commands}
        for i in range(args.runs + 1):
            for name, (argv, cwd) in commands.items():
                fresh = {**env, "XDG_CACHE_HOME": str(work / f"cache-{i}")}
                wall, rss = run_once(argv, cwd, fresh if name == edited else env)
                if i:  # round 0 writes .pyc files and caches, as a user's first plan does
                    walls[name].append(wall)
                    peaks[name].append(rss)
    print(f"{os.cpu_count()} CPUs, {args.runs} rounds, velollm = {shlex.join(velollm)}")
    print(f"{'command':<22}{'median ms':>10}{'min ms':>8}{'max ms':>8}{'peak RSS MiB':>14}")
    median = {name: statistics.median(w) for name, w in walls.items()}
    for name in commands:
        print(f"{name:<22}{median[name]:>10.1f}{min(walls[name]):>8.1f}{max(walls[name]):>8.1f}"
              f"{max(peaks[name]) / 1024:>14.1f}")
    plans = [(n, median[name]) for n, name in zip(counts, list(commands)[1:-2], strict=True)]
    first_n, first = plans[0]
    verdicts = [(f"plan with {first_n} model(s): {first:.0f} ms (target <= 200 ms; "
                f"{median[changing]:.0f} ms changing applied values, "
                f"{median[edited]:.0f} ms when velollm.yaml was just edited)")]
    if len(plans) > 1:
        last_n, last = plans[-1]
        per_model = (last - first) / (last_n - first_n)
        verdicts.append(f"{per_model:.2f} ms per extra model from {first_n} to {last_n} "
                        "(target <= 5 ms)")
        sized = [(n, ms) for n, ms in plans if 1 < n <= len(known_models())]
        if sized and sized[-1][0] != last_n:  # the table's models are sized, the rest only listed
            top_n, top = sized[-1]
            verdicts.append(f"{(top - first) / (top_n - first_n):.2f} ms per extra sized model "
                            f"from {first_n} to {top_n}")
    peak = max(max(peaks[name]) for name in list(commands)[1:]) / 1024
    verdicts.append(f"peak RSS of plan {peak:.1f} MiB (target <= 40 MiB)")
    print("; ".join(verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
