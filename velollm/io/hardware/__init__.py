"""Hardware detection: GPUs, CPU, memory, OS and the server installs, as one frozen `Hardware` value.

One module per source (nvml, nvidia_smi, rocm, apple, lspci, cpu, memory, system; each backend's
install probe); `detect()` runs them concurrently under one timeout. The value types live in
velollm/core/hardware.py; the JSON form is schemas/hardware.schema.json.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from velollm.io.hardware.detector import detect
    from velollm.io.hardware.document import load_document, read_document, validate_document
    from velollm.io.hardware.runner import ProbeContext

# Imported on first use (PEP 562): `plan --hardware FILE` reads a document and `ollama`'s
# install probe needs only the runner; neither should load every probe (~10 ms).
_LAZY = {"detect": "detector", "load_document": "document", "read_document": "document",
         "validate_document": "document", "ProbeContext": "runner"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value

__all__ = ["FORMAT_VERSION", "KIND", "Cpu", "Gpu", "Hardware", "Memory", "OllamaInstall", "OsInfo",
           "Pcie", "Probe", "ProbeContext", "detect", "load_document", "read_document",
           "validate_document"]
