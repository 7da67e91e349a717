"""Test doubles for the hardware probes: real executables on a private PATH, and a fake pynvml.

The tools are real shell scripts that print the captured fixture and exit with the tool's own code, so
the subprocess runner (timeouts, exit codes, process groups) is exercised for real.
"""

from __future__ import annotations

import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pynvml

from velollm.io.hardware.runner import ProbeContext

DATA = Path(__file__).resolve().parents[2] / "data" / "hardware"


class ToolBox:
    """A bin directory holding fake tools, and a ProbeContext whose PATH is only that directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)

    def script(self, name: str, body: str) -> Path:
        path = self.bin / name
        path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path

    def tool(self, name: str, fixture: str, *, exit_code: int = 0, stream: str = "out") -> Path:
        redirect = " >&2" if stream == "err" else ""
        return self.script(name, f"cat '{DATA / fixture}'{redirect}\nexit {exit_code}")

    def ctx(self, *, system: str = "linux", environ: dict[str, str] | None = None,
            home: Path | None = None) -> ProbeContext:
        path = str(self.bin)
        # `which` sees only the fake tools; the scripts themselves still find cat, sleep, cut.
        env = {"PATH": f"{path}:/usr/bin:/bin", **(environ or {})}
        return ProbeContext(root=self.root, which=lambda name: shutil.which(name, path=path),
                            environ=env, system=system, home=home or self.root / "home")


def install_fixture(root: Path, absolute: str, fixture: str) -> Path:
    """Copy a fixture to `absolute` under a fake root (e.g. /proc/cpuinfo)."""
    target = root / absolute.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DATA / fixture, target)
    return target


# -- fake NVML ----------------------------------------------------------------------------------

@dataclass
class FakeDevice:
    name: str
    uuid: str
    total: int
    free: int
    cc: tuple[int, int] = (9, 0)
    bus_width: int = 5120
    mem_clock: int = 2619
    pcie: tuple[int, int] = (5, 16)
    lost: bool = False
    unsupported: set[str] = field(default_factory=set)


def _error(code: int) -> Exception:
    exc: Exception = pynvml.NVMLError(code)  # pynvml maps the code to its NVMLError_* subclass
    return exc


def fake_pynvml(devices: list[FakeDevice], *, init_error: int | None = None,
                driver: str = "550.54.15") -> ModuleType:
    """A module object with pynvml's names: real error classes and constants, scripted devices."""
    mod = ModuleType("pynvml")
    for name in dir(pynvml):
        if name.startswith(("NVMLError", "NVML_")):
            setattr(mod, name, getattr(pynvml, name))
    calls: list[str] = []
    mod.calls = calls  # type: ignore[attr-defined]

    def init() -> None:
        calls.append("init")
        if init_error is not None:
            raise _error(init_error)

    def metric(attr: str, fn: Any) -> Any:
        def call(handle: FakeDevice, *args: Any) -> Any:
            if handle.lost:
                raise _error(pynvml.NVML_ERROR_GPU_IS_LOST)
            if attr in handle.unsupported:
                raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
            return fn(handle, *args)
        return call

    mod.nvmlInit = init  # type: ignore[attr-defined]
    mod.nvmlShutdown = lambda: calls.append("shutdown")  # type: ignore[attr-defined]
    mod.nvmlDeviceGetCount = lambda: len(devices)  # type: ignore[attr-defined]
    mod.nvmlSystemGetDriverVersion = lambda: driver  # type: ignore[attr-defined]
    mod.nvmlDeviceGetHandleByIndex = lambda i: devices[i]  # type: ignore[attr-defined]
    mod.nvmlDeviceGetName = metric("name", lambda d: d.name)  # type: ignore[attr-defined]
    mod.nvmlDeviceGetUUID = metric("uuid", lambda d: d.uuid)  # type: ignore[attr-defined]
    mod.nvmlDeviceGetMemoryInfo = metric(  # type: ignore[attr-defined]
        "memory", lambda d: pynvml.c_nvmlMemory_t(total=d.total, free=d.free,
                                                  used=d.total - d.free))
    mod.nvmlDeviceGetCudaComputeCapability = metric("cc", lambda d: d.cc)  # type: ignore[attr-defined]
    mod.nvmlDeviceGetMemoryBusWidth = metric("bus", lambda d: d.bus_width)  # type: ignore[attr-defined]
    mod.nvmlDeviceGetMaxClockInfo = metric(  # type: ignore[attr-defined]
        "clock", lambda d, kind: d.mem_clock if kind == pynvml.NVML_CLOCK_MEM else 1980)
    mod.nvmlDeviceGetMaxPcieLinkGeneration = metric(  # type: ignore[attr-defined]
        "pcie_gen", lambda d: d.pcie[0])
    mod.nvmlDeviceGetMaxPcieLinkWidth = metric(  # type: ignore[attr-defined]
        "pcie_width", lambda d: d.pcie[1])
    return mod


GIB = 1024**3
H100 = FakeDevice("NVIDIA H100 80GB HBM3", "GPU-1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718",
                  total=85520809984, free=84818198528)
RTX4090 = FakeDevice("NVIDIA GeForce RTX 4090", "GPU-6f3a1c2e-8d4b-4a57-9f0e-2b1c3d4e5f60",
                     total=25757220864, free=25139609600, cc=(8, 9), bus_width=384,
                     mem_clock=10501, pcie=(4, 16))
