"""Run every probe concurrently under one deadline and assemble the Hardware document.

Subprocess probes are I/O-bound, so threads overlap them: `detect` costs the slowest probe, not the sum.
A probe still running at the deadline (e.g. NVML stuck in the driver, which no timeout can interrupt)
is reported as "timeout" and left behind in a daemon thread.
"""

from __future__ import annotations

import dataclasses
import platform
import threading
import time
from collections.abc import Callable
from typing import Any

from velollm.backends.ollama import install as ollama_install
from velollm.backends.ollama.host import parse_host
from velollm.core.hardware import Gpu, Hardware, OllamaInstall, Probe
from velollm.io.hardware import apple, cpu, lspci, memory, nvidia_smi, nvml, rocm
from velollm.io.hardware import system as system_probe
from velollm.io.hardware.runner import ProbeContext

GpuProbe = tuple[list[Gpu], list[Probe]]
# Time for Python to parse and hand back a result after the last subprocess answered.
GRACE = 0.3


def detect(*, timeout: float = 2.0, ctx: ProbeContext | None = None,
           nvml_loader: nvml.Loader = nvml.load_pynvml) -> Hardware:
    base = ctx or ProbeContext()
    system = base.system or platform.system().lower()
    ctx = dataclasses.replace(base, system=system, deadline=time.monotonic() + timeout)
    tasks: dict[str, Callable[[], Any]] = {
        "ollama": lambda: ollama_install.probe_install(ctx, timeout),
        "ollama-server": lambda: ollama_install.probe_server(ctx, timeout),
    }
    if system == "darwin":
        tasks["system_profiler"] = lambda: _single(apple.probe(ctx, timeout))
    else:
        tasks["nvml"] = lambda: _nvidia(ctx, timeout, nvml_loader)
    if system == "linux":
        tasks["rocm-smi"] = lambda: _amd(ctx, timeout)
        tasks["lspci"] = lambda: _single(lspci.probe(ctx, timeout))
    threads = _start(tasks)
    # Cheap file reads: done here while the threads wait on their subprocesses.
    cpu_info, cpu_probe = cpu.probe(ctx, timeout)
    mem, mem_probe = memory.probe(ctx)
    os_info, os_probe = system_probe.probe(ctx)
    results = _join(threads, (ctx.deadline or 0.0) + GRACE)
    gpus, gpu_probes = _gpus(results)
    ollama, ollama_probes = _ollama(ctx, results)
    return Hardware(gpus=gpus, cpu=cpu_info, memory=mem, os=os_info, ollama=ollama,
                    probes=(*gpu_probes, cpu_probe, mem_probe, os_probe, *ollama_probes))


def _single(result: tuple[list[Gpu], Probe]) -> GpuProbe:
    return result[0], [result[1]]


def _nvidia(ctx: ProbeContext, timeout: float, loader: nvml.Loader) -> GpuProbe:
    if _no_nvidia_driver(ctx):
        # Loading pynvml + libnvidia-ml via ctypes costs ~15 ms only to learn the same thing.
        probe = Probe("nvml", "absent", "NVIDIA kernel driver not loaded (no /proc/driver/nvidia)")
        gpus: list[Gpu] = []
    else:
        gpus, probe = nvml.probe(loader)
    if probe.status == "ok":
        return gpus, [probe]
    smi_gpus, smi_probe = nvidia_smi.probe(ctx, timeout)
    return smi_gpus, [probe, smi_probe]


def _no_nvidia_driver(ctx: ProbeContext) -> bool:
    """Linux only: the driver creates /proc/driver/nvidia (visible in containers too); WSL2
    drives the GPU through /dev/dxg instead, so there we always ask NVML."""
    if ctx.system != "linux" or system_probe.detect_wsl(ctx):
        return False
    return not ctx.path("/proc/driver/nvidia").exists()


def _amd(ctx: ProbeContext, timeout: float) -> GpuProbe:
    gpus, probe = rocm.probe_rocm_smi(ctx, timeout)
    if probe.status != "absent":
        return gpus, [probe]
    amd_gpus, amd_probe = rocm.probe_amd_smi(ctx, timeout)
    return amd_gpus, [probe, amd_probe]


class _Task(threading.Thread):
    def __init__(self, name: str, fn: Callable[[], Any]) -> None:
        super().__init__(name=f"velollm-probe-{name}", daemon=True)
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except Exception as exc:  # noqa: BLE001  # a parser bug must not sink the whole report
            self.error = exc


def _start(tasks: dict[str, Callable[[], Any]]) -> dict[str, _Task]:
    threads = {name: _Task(name, fn) for name, fn in tasks.items()}
    for thread in threads.values():
        thread.start()
    return threads


def _join(threads: dict[str, _Task], deadline: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, thread in threads.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            results[name] = Probe(name, "timeout", "no answer before the detection deadline")
        elif thread.error is not None:
            results[name] = Probe(name, "error",
                                  f"probe failed: {type(thread.error).__name__}: {thread.error}")
        else:
            results[name] = thread.result
    return results


def _gpus(results: dict[str, Any]) -> tuple[tuple[Gpu, ...], list[Probe]]:
    rich: list[Gpu] = []
    probes: list[Probe] = []
    for name in ("nvml", "rocm-smi", "system_profiler"):
        if name in results:
            found, found_probes = _unpack(results[name])
            rich += found
            probes += found_probes
    others: list[Gpu] = []
    if "lspci" in results:
        listed, lspci_probes = _unpack(results["lspci"])
        probes += lspci_probes
        covered = {g.vendor for g in rich}
        # A vendor a richer source reported is not listed twice (its lspci entry has no VRAM).
        others = [dataclasses.replace(g, index=i) for i, g in
                  enumerate(g for g in listed if g.vendor not in covered)]
    return (*rich, *others), probes


def _unpack(result: Any) -> GpuProbe:
    if isinstance(result, Probe):  # timed out or crashed
        return [], [result]
    gpus, probes = result
    return list(gpus), list(probes)


def _ollama(ctx: ProbeContext, results: dict[str, Any]) -> tuple[OllamaInstall, list[Probe]]:
    inst, inst_probe = _value(results["ollama"])
    srv, srv_probe = _value(results["ollama-server"])
    probes = [inst_probe, srv_probe]
    host = srv.host if srv else parse_host(ctx.environ.get("OLLAMA_HOST"))
    return OllamaInstall(
        installed=bool(inst and inst.path), host=host,
        path=inst.path if inst else None, version=inst.version if inst else None,
        server_reachable=bool(srv and srv.reachable),
        server_version=srv.version if srv else None,
        managed_by=inst.managed_by if inst else "none",
        systemd_unit=inst.systemd_unit if inst else None,
        systemd_dropins=inst.systemd_dropins if inst else (),
    ), probes


def _value(result: Any) -> tuple[Any, Probe]:
    """(value, probe) from a probe that answered; (None, its timeout/error probe) otherwise."""
    if isinstance(result, Probe):
        return None, result
    value, probe = result
    return value, probe
