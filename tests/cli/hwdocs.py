"""Hardware documents (the `velollm detect --json` format) for planning other machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GIB = 2**30


def hardware(*, gpus: list[dict[str, Any]] | None = None, ram_gib: int = 32, cores: int = 8,
             system: str = "linux", ollama_version: str | None = "0.12.4",
             managed_by: str = "none") -> dict[str, Any]:
    return {
        "format_version": 1, "kind": "velollm.hardware", "velollm_version": "0.1.0",
        "gpus": gpus or [],
        "cpu": {"model": "Test CPU", "arch": "x86_64", "physical_cores": cores,
                "logical_threads": cores * 2, "max_frequency_mhz": 4000.0,
                "flags": ["avx2", "f16c"]},
        "memory": {"total_bytes": ram_gib * GIB, "available_bytes": ram_gib * GIB // 2,
                   "swap_total_bytes": 0},
        "os": {"system": system, "release": "6.1", "kernel": "6.1.0", "arch": "x86_64",
               "container": None, "wsl": False},
        "ollama": {"installed": ollama_version is not None, "path": "/usr/bin/ollama",
                   "version": ollama_version, "host": "http://127.0.0.1:11434",
                   "server_reachable": False, "server_version": None,
                   "managed_by": managed_by, "systemd_unit": None, "systemd_dropins": []},
        "probes": [],
    }


def nvidia(name: str, vram_gib: int, index: int = 0) -> dict[str, Any]:
    return {"index": index, "vendor": "nvidia", "name": name, "uuid": f"GPU-{index}",
            "vram_total_bytes": vram_gib * GIB, "vram_free_bytes": vram_gib * GIB - GIB // 2,
            "unified_memory": False, "driver_version": "550.54.15", "compute_capability": "8.9",
            "memory_bus_width_bits": 384, "memory_clock_max_mhz": 10501,
            "memory_bandwidth_gbps": 1008.0, "pcie": {"generation": 4, "width": 16},
            "source": "nvml", "notes": []}


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
