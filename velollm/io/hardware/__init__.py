"""Hardware detection: GPUs, CPU, memory, OS and the server installs, as one frozen `Hardware` value.

One module per source (nvml, nvidia_smi, rocm, apple, lspci, cpu, memory, system; each backend's
install probe); `detect()` runs them concurrently under one timeout. The value types live in
velollm/core/hardware.py; the JSON form is schemas/hardware.schema.json.
"""

from __future__ import annotations

from velollm.core.hardware import (
    FORMAT_VERSION,
    KIND,
    Cpu,
    Gpu,
    Hardware,
    Memory,
    OllamaInstall,
    OsInfo,
    Pcie,
    Probe,
)
from velollm.io.hardware.detector import detect
from velollm.io.hardware.document import load_document, read_document, validate_document
from velollm.io.hardware.runner import ProbeContext

__all__ = ["FORMAT_VERSION", "KIND", "Cpu", "Gpu", "Hardware", "Memory", "OllamaInstall", "OsInfo",
           "Pcie", "Probe", "ProbeContext", "detect", "load_document", "read_document",
           "validate_document"]
