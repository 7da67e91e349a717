"""Hardware detection: GPUs, CPU, memory, OS and the Ollama install, as one frozen `Hardware` value.

One module per source (nvml, nvidia_smi, rocm, apple, lspci, cpu, memory, system, ollama_install);
`detect()` runs them concurrently under one timeout. The JSON form is schemas/hardware.schema.json.
"""

from __future__ import annotations

from velollm.io.hardware.detector import detect
from velollm.io.hardware.model import (
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
    validate_document,
)
from velollm.io.hardware.runner import ProbeContext

__all__ = ["FORMAT_VERSION", "KIND", "Cpu", "Gpu", "Hardware", "Memory", "OllamaInstall", "OsInfo",
           "Pcie", "Probe", "ProbeContext", "detect", "validate_document"]
