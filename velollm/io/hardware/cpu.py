"""CPU model, cores, threads, max frequency and the SIMD flags that matter for inference.

Linux: /proc/cpuinfo (x86 "flags", arm64 "Features") and cpufreq in /sys. macOS: sysctl.
"""

from __future__ import annotations

import os
import platform

from velollm.core.hardware import Cpu, Probe
from velollm.io.hardware.runner import ProbeContext, run_tool

# The flags llama.cpp / ggml pick kernels by; everything else in /proc/cpuinfo is noise here.
X86_FLAGS = ("avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
             "avx512_bf16", "avx512_vnni", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")
ARM_FLAGS = {"asimd": "neon", "asimddp": "dotprod", "i8mm": "i8mm", "bf16": "bf16",
             "sve": "sve", "sve2": "sve2", "fphp": "fp16"}
# Arm "CPU implementer"/"CPU part" pairs of common server and board cores (arm64 has no model name).
ARM_PARTS = {("0x41", "0xd0c"): "Arm Neoverse-N1", ("0x41", "0xd40"): "Arm Neoverse-V1",
             ("0x41", "0xd4f"): "Arm Neoverse-V2", ("0x41", "0xd49"): "Arm Neoverse-N2",
             ("0x41", "0xd08"): "Arm Cortex-A72", ("0x41", "0xd0b"): "Arm Cortex-A76",
             ("0x41", "0xd03"): "Arm Cortex-A53", ("0xc0", "0xac3"): "Ampere-1"}
SYSCTL_KEYS = ("machdep.cpu.brand_string", "hw.physicalcpu", "hw.logicalcpu",
               "hw.cpufrequency_max", "hw.optional.arm.FEAT_BF16", "hw.optional.arm.FEAT_I8MM",
               "hw.optional.arm.FEAT_DotProd", "hw.optional.neon", "hw.optional.avx2_0",
               "hw.optional.avx512f")


def normalize_arch(machine: str) -> str:
    m = machine.lower()
    return {"amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(m, m)


def probe(ctx: ProbeContext, timeout: float) -> tuple[Cpu, Probe]:
    system = ctx.system or platform.system().lower()
    if system == "darwin":
        result = run_tool(["sysctl", *SYSCTL_KEYS], timeout=ctx.budget(timeout), which=ctx.which,
                          env=ctx.environ)
        # sysctl exits 1 when one key is unknown (Intel vs arm64) but still prints the others.
        if result.stdout:
            return parse_sysctl(result.stdout), Probe("cpu", "ok", "sysctl")
        return _fallback(), Probe("cpu", result.status, result.detail)
    try:
        text = ctx.path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return _fallback(), Probe("cpu", "error", f"/proc/cpuinfo unreadable: {exc.strerror}")
    cpu = parse_cpuinfo(text, max_mhz=read_max_mhz(ctx))
    return cpu, Probe("cpu", "ok", "/proc/cpuinfo")


def _fallback() -> Cpu:
    return Cpu(model=platform.processor() or None, arch=normalize_arch(platform.machine()),
               physical_cores=None, logical_threads=os.cpu_count(), max_frequency_mhz=None)


def read_max_mhz(ctx: ProbeContext) -> float | None:
    path = ctx.path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    try:
        return int(path.read_text().strip()) / 1000  # kHz
    except (OSError, ValueError):
        return None


def _blocks(text: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = [{}]
    for line in text.splitlines():
        if not line.strip():
            blocks.append({})
            continue
        key, sep, value = line.partition(":")
        if sep:
            blocks[-1][key.strip().lower()] = value.strip()
    return [b for b in blocks if b]


def parse_cpuinfo(text: str, *, max_mhz: float | None = None) -> Cpu:
    blocks = _blocks(text)
    procs = [b for b in blocks if "processor" in b]
    first = procs[0] if procs else (blocks[0] if blocks else {})
    if "flags" in first:
        arch = "x86_64" if " lm " in f" {first['flags']} " else "x86"
        flags = _x86_flags(first["flags"].split())
    else:
        arch = "arm64"
        flags = sorted({ARM_FLAGS[f] for f in first.get("features", "").split() if f in ARM_FLAGS})
    cores = {(b.get("physical id", "0"), b["core id"]) for b in procs if "core id" in b}
    model = first.get("model name") or _arm_model(first) or next(
        (b["hardware"] for b in blocks if "hardware" in b), None)
    return Cpu(model=model, arch=arch,
               physical_cores=len(cores) if cores else (len(procs) or None),
               logical_threads=len(procs) or None,
               max_frequency_mhz=max_mhz, flags=tuple(flags))


def _x86_flags(raw: list[str]) -> list[str]:
    present = set(raw)
    flags = [f for f in X86_FLAGS if f in present]
    if present & {"amx_tile", "amx_bf16", "amx_int8"}:
        flags.append("amx")
    return sorted(flags)


def _arm_model(block: dict[str, str]) -> str | None:
    key = (block.get("cpu implementer", "").lower(), block.get("cpu part", "").lower())
    return ARM_PARTS.get(key)


def parse_sysctl(text: str) -> Cpu:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    flags = {"hw.optional.neon": "neon", "hw.optional.arm.FEAT_BF16": "bf16",
             "hw.optional.arm.FEAT_I8MM": "i8mm", "hw.optional.arm.FEAT_DotProd": "dotprod",
             "hw.optional.avx2_0": "avx2", "hw.optional.avx512f": "avx512f"}
    hz = _int(values.get("hw.cpufrequency_max"))
    is_arm = "hw.optional.neon" in values
    return Cpu(model=values.get("machdep.cpu.brand_string"),
               arch="arm64" if is_arm else "x86_64",
               physical_cores=_int(values.get("hw.physicalcpu")),
               logical_threads=_int(values.get("hw.logicalcpu")),
               max_frequency_mhz=hz / 1e6 if hz else None,
               flags=tuple(sorted(f for k, f in flags.items() if values.get(k) == "1")))


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
