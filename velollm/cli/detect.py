"""`velollm detect`: what this machine has (GPUs, CPU, RAM, OS) and how Ollama is installed."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from velollm.cli._deadlines import seconds
from velollm.output import OUT

if TYPE_CHECKING:
    from velollm.io.hardware import Gpu, Hardware

GIB = 1024**3
_STATUS_STYLE = {"ok": "green", "absent": "dim", "error": "red", "timeout": "yellow"}
_GPU_PROBES = ("nvml", "nvidia-smi", "rocm-smi", "amd-smi", "system_profiler", "lspci")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "detect", parents=[common], help="show the hardware and the Ollama install",
        description="Detect GPUs (VRAM, driver), CPU, memory, OS and the Ollama install. "
                    "`--json` prints the hardware document that `plan --hardware FILE` reads.")
    p.add_argument("--timeout", type=seconds, default=2.0, metavar="SECONDS",
                   help="one deadline for all probes, which run at the same time: detect "
                        "answers within about this long, and reports a probe still running then "
                        "as timed out (default: 2)")


def run(args: argparse.Namespace) -> int:
    from velollm.io.hardware import detect

    hardware = detect(timeout=args.timeout)
    if OUT.json_mode:
        OUT.json(hardware.to_dict())
    else:
        report(hardware, verbose=OUT.verbosity >= 1)
    return 0


def report(hw: Hardware, *, verbose: bool) -> None:
    if not hw.gpus:
        late = _timed_out(hw, *_GPU_PROBES)
        OUT.line(f"{label('GPU')}none detected " + (f"({' and '.join(late)} timed out)" if late
                                                     else "(CPU inference only)"))
    for gpu in hw.gpus:
        OUT.line(f"{label('GPU')}{gpu_line(gpu)}")
    c = hw.cpu
    threads = f"{c.physical_cores or '?'} cores / {c.logical_threads or '?'} threads"
    freq = f", {c.max_frequency_mhz / 1000:.1f} GHz" if c.max_frequency_mhz else ""
    flags = f"; {' '.join(c.flags)}" if c.flags else ""
    _wrapped(f"{label('CPU')}{c.model or 'unknown'} ({c.arch}), {threads}{freq}{flags}")
    m = hw.memory
    OUT.line(f"{label('Memory')}{_gib(m.total_bytes)} total, {_gib(m.available_bytes)} available, "
             f"swap {_gib(m.swap_total_bytes)}")
    o = hw.os
    hints = [f"container: {o.container}"] if o.container else []
    hints += ["WSL"] if o.wsl else []
    extra = f"; {', '.join(hints)}" if hints else ""
    _wrapped(f"{label('OS')}{o.release}, kernel {o.kernel} ({o.arch}){extra}")
    OUT.line(f"{label('Ollama')}{ollama_line(hw)}")
    if verbose:
        OUT.line()
        for probe in hw.probes:
            status = OUT.style(f"{probe.status:<7}", _STATUS_STYLE[probe.status])
            OUT.line(f"  probe {probe.name:<16}{status} {probe.detail}")
    late = [p.name for p in hw.probes if p.status == "timeout"]
    if late:  # what they would have found is missing above, not known to be absent
        OUT.warn(f"timed out: {', '.join(late)}; their findings are missing from this report "
                 "(run again with a longer --timeout; -v shows every probe)")


def _wrapped(text: str) -> None:
    """A line of the report wrapped to the terminal, continued under the value column."""
    from velollm.report.layout import wrap_text

    for line in wrap_text(text, indent=" " * LABEL_WIDTH):
        OUT.line(line)


LABEL_WIDTH = 7


def label(text: str) -> str:
    return OUT.style(f"{text:<{LABEL_WIDTH}}", "bold")


def gpu_line(gpu: Gpu) -> str:
    parts = [f"{gpu.index} {gpu.name} [{gpu.vendor}, {gpu.source}]"]
    if gpu.vram_total_bytes is not None:
        free = f", {_gib(gpu.vram_free_bytes)} free" if gpu.vram_free_bytes is not None else ""
        shared = " unified" if gpu.unified_memory else ""
        parts.append(f"{_gib(gpu.vram_total_bytes)}{shared} VRAM{free}")
    else:
        parts.append("VRAM unknown")
    if gpu.driver_version:
        parts.append(f"driver {gpu.driver_version}")
    if gpu.compute_capability:
        parts.append(f"compute {gpu.compute_capability}")
    if gpu.memory_bandwidth_gbps:
        parts.append(f"{gpu.memory_bandwidth_gbps:.0f} GB/s")
    if gpu.pcie and gpu.pcie.generation:
        parts.append(f"PCIe {gpu.pcie.generation} x{gpu.pcie.width or '?'}")
    return ", ".join(parts)


def ollama_line(hw: Hardware) -> str:
    o = hw.ollama
    install_late = bool(_timed_out(hw, "ollama"))
    failed = [p.detail for p in hw.probes if p.name == "ollama-server" and p.status == "error"]
    if o.installed:
        version = o.version or ("version unknown (`ollama --version` timed out)" if install_late
                                else "version unknown")
        text = f"{version} at {o.path}"
    else:
        text = "install unknown (the probe timed out)" if install_late else "not installed"
    if o.managed_by != "none":
        text += f", managed by {o.managed_by}"
        if o.systemd_dropins:
            text += f" ({len(o.systemd_dropins)} drop-in(s))"
    if o.server_reachable:
        server = f"server {o.server_version} reachable at {o.host}"
    elif _timed_out(hw, "ollama-server"):
        server = f"no answer from {o.host} in time (timed out)"
    elif failed:
        server = f"the server did not answer as Ollama does: {failed[0]}"
    else:
        server = f"no server at {o.host}"
    return f"{text}; {server}"


def _timed_out(hw: Hardware, *names: str) -> list[str]:
    return [p.name for p in hw.probes if p.name in names and p.status == "timeout"]


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / GIB:.1f} GiB"
