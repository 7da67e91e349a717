"""The hardware facts: frozen values, and their JSON form (schemas/hardware.schema.json). Pure.

`velollm detect --json` writes it and `velollm plan --hardware FILE` reads it back, so the field names
are a contract: add fields, never rename them; a breaking change bumps FORMAT_VERSION.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from velollm import __version__
from velollm.errors import ConfigError

FORMAT_VERSION = 1
KIND = "velollm.hardware"

Vendor = Literal["nvidia", "amd", "apple", "intel", "other"]
GpuSource = Literal["nvml", "nvidia-smi", "rocm-smi", "amd-smi", "system_profiler", "lspci"]
ProbeStatus = Literal["ok", "absent", "error", "timeout"]
ManagedBy = Literal["systemd", "launchd", "app", "none"]


@dataclass(frozen=True)
class Pcie:
    generation: int | None = None
    width: int | None = None


@dataclass(frozen=True)
class Gpu:
    index: int
    vendor: Vendor
    name: str
    source: GpuSource
    uuid: str | None = None
    vram_total_bytes: int | None = None
    vram_free_bytes: int | None = None
    unified_memory: bool = False
    driver_version: str | None = None
    compute_capability: str | None = None
    memory_bus_width_bits: int | None = None
    memory_clock_max_mhz: int | None = None
    memory_bandwidth_gbps: float | None = None
    pcie: Pcie | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cpu:
    model: str | None
    arch: str
    physical_cores: int | None
    logical_threads: int | None
    max_frequency_mhz: float | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Memory:
    total_bytes: int
    available_bytes: int
    swap_total_bytes: int


@dataclass(frozen=True)
class OsInfo:
    system: str
    release: str
    kernel: str
    arch: str
    container: str | None = None
    wsl: bool = False


@dataclass(frozen=True)
class OllamaInstall:
    installed: bool
    host: str
    path: str | None = None
    version: str | None = None
    server_reachable: bool = False
    server_version: str | None = None
    managed_by: ManagedBy = "none"
    systemd_unit: str | None = None
    systemd_dropins: tuple[str, ...] = ()


@dataclass(frozen=True)
class Probe:
    name: str
    status: ProbeStatus
    detail: str = ""


@dataclass(frozen=True)
class Hardware:
    gpus: tuple[Gpu, ...]
    cpu: Cpu
    memory: Memory
    os: OsInfo
    ollama: OllamaInstall
    probes: tuple[Probe, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)  # asdict turns nested tuples of dataclasses into lists of dicts
        doc: dict[str, Any] = {"format_version": FORMAT_VERSION, "kind": KIND,
                               "velollm_version": __version__}
        doc.update(_lists(body))
        return doc

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hardware:
        """Build from a document already checked against the schema (io.hardware.read_document
        validates first); only its kind and format are checked here."""
        if data.get("kind") != KIND or data.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"not a {KIND} document of format_version {FORMAT_VERSION}",
                              hint="create one with `velollm detect --json > hardware.json`")
        return cls(
            gpus=tuple(_gpu(g) for g in data["gpus"]),
            cpu=Cpu(**{**data["cpu"], "flags": tuple(data["cpu"]["flags"])}),
            memory=Memory(**data["memory"]),
            os=OsInfo(**data["os"]),
            ollama=OllamaInstall(**{**data["ollama"],
                                    "systemd_dropins": tuple(data["ollama"]["systemd_dropins"])}),
            probes=tuple(Probe(**p) for p in data["probes"]),
        )


def _gpu(raw: dict[str, Any]) -> Gpu:
    pcie = raw.get("pcie")
    return Gpu(**{**raw, "pcie": Pcie(**pcie) if pcie is not None else None,
                  "notes": tuple(raw.get("notes", ()))})


def _lists(value: Any) -> Any:
    """JSON has no tuples: make the document compare equal to its json.loads round trip."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value
