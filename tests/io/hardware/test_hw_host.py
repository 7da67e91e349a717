"""CPU, memory and OS probes read from fixture files under an injected root."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from velollm.io.hardware import cpu, memory, system
from velollm.io.hardware.runner import ProbeContext

from .hwfakes import ToolBox, install_fixture


def _ctx(root: Path, **environ: str) -> ProbeContext:
    return ProbeContext(root=root, environ=dict(environ), system="linux")


def test_cpuinfo_x86_sapphire_rapids(tmp_path: Path) -> None:
    install_fixture(tmp_path, "/proc/cpuinfo", "cpuinfo-x86-sapphire-rapids.txt")
    freq = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"
    freq.parent.mkdir(parents=True)
    freq.write_text("3800000\n")
    info, probe = cpu.probe(_ctx(tmp_path), 1.0)
    assert probe.status == "ok"
    assert info.model == "Intel(R) Xeon(R) Platinum 8480+" and info.arch == "x86_64"
    assert (info.physical_cores, info.logical_threads) == (2, 4)  # hyper-threading: 2 per core
    assert info.max_frequency_mhz == 3800.0
    for flag in ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx", "amx_tile", "f16c"):
        assert flag in info.flags
    assert "sse2" not in info.flags  # only inference-relevant flags are kept


def test_cpuinfo_arm64_neoverse(tmp_path: Path) -> None:
    install_fixture(tmp_path, "/proc/cpuinfo", "cpuinfo-arm64-neoverse-n1.txt")
    info, _ = cpu.probe(_ctx(tmp_path), 1.0)
    assert info.arch == "arm64" and info.model == "Arm Neoverse-N1"
    assert (info.physical_cores, info.logical_threads) == (4, 4)
    assert info.flags == ("dotprod", "fp16", "neon")
    assert info.max_frequency_mhz is None  # no cpufreq: unknown, not guessed


def test_missing_cpuinfo_falls_back_without_crashing(tmp_path: Path) -> None:
    info, probe = cpu.probe(_ctx(tmp_path), 1.0)
    assert probe.status == "error" and info.arch


def test_macos_sysctl_cpu(tmp_path: Path) -> None:
    box = ToolBox(tmp_path)
    box.script("sysctl", """cat <<'OUT'
machdep.cpu.brand_string: Apple M2 Pro
hw.physicalcpu: 12
hw.logicalcpu: 12
hw.optional.arm.FEAT_BF16: 1
hw.optional.arm.FEAT_I8MM: 1
hw.optional.arm.FEAT_DotProd: 1
hw.optional.neon: 1
OUT
echo "sysctl: unknown oid 'hw.cpufrequency_max'" >&2
exit 1""")
    info, probe = cpu.probe(box.ctx(system="darwin"), 1.0)
    assert probe.status == "ok"
    assert (info.model, info.arch, info.physical_cores) == ("Apple M2 Pro", "arm64", 12)
    assert info.flags == ("bf16", "dotprod", "i8mm", "neon")


def test_meminfo(tmp_path: Path) -> None:
    install_fixture(tmp_path, "/proc/meminfo", "meminfo.txt")
    mem, probe = memory.probe(_ctx(tmp_path))
    assert probe.detail == "/proc/meminfo"
    assert (mem.total_bytes, mem.available_bytes, mem.swap_total_bytes) == (
        65536000 * 1024, 48000000 * 1024, 8388604 * 1024)


def test_memory_without_proc_uses_psutil(tmp_path: Path) -> None:
    import psutil

    mem, probe = memory.probe(_ctx(tmp_path))
    assert probe.detail == "psutil"
    assert mem.total_bytes == psutil.virtual_memory().total


def test_real_machine_host_probes_agree_with_the_standard_library() -> None:
    ctx = ProbeContext()
    info, _ = cpu.probe(ctx, 1.0)
    assert info.logical_threads == (len(_online_cpus()) or info.logical_threads)
    osinfo, _ = system.probe(ctx)
    assert osinfo.kernel == platform.release()
    assert osinfo.system == platform.system().lower()


def _online_cpus() -> list[str]:
    try:
        return [line for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("processor")]
    except OSError:
        return []


@pytest.mark.parametrize(("files", "environ", "expected"), [
    ({".dockerenv": ""}, {}, "docker"),
    ({"run/.containerenv": ""}, {}, "podman"),
    ({}, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "kubernetes"),
    ({}, {"container": "systemd-nspawn"}, "systemd-nspawn"),
    ({"proc/1/cgroup": "0::/system.slice/docker-3f2a.scope\n"}, {}, "docker"),
    ({"proc/1/cgroup": "0::/init.scope\n"}, {}, None),
])
def test_container_hints(tmp_path: Path, files: dict[str, str], environ: dict[str, str],
                         expected: str | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert system.detect_container(_ctx(tmp_path, **environ)) == expected


def test_wsl_and_distribution_name(tmp_path: Path) -> None:
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/osrelease").write_text("5.15.153.1-microsoft-standard-WSL2\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text('NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 24.04.1 LTS"\n')
    info, _ = system.probe(_ctx(tmp_path))
    assert info.wsl is True and info.release == "Ubuntu 24.04.1 LTS" and info.container is None


@pytest.mark.parametrize(("limit", "expected_total"), [
    ("4294967296\n", 4294967296), ("max\n", 65536000 * 1024),
    ("9223372036854771712\n", 65536000 * 1024)])  # cgroup v1 "no limit" is a huge number
def test_container_memory_limit_caps_total(tmp_path: Path, limit: str,
                                           expected_total: int) -> None:
    install_fixture(tmp_path, "/proc/meminfo", "meminfo.txt")
    (tmp_path / "sys/fs/cgroup").mkdir(parents=True)
    (tmp_path / "sys/fs/cgroup/memory.max").write_text(limit)
    mem, probe = memory.probe(_ctx(tmp_path))
    assert mem.total_bytes == expected_total
    assert mem.available_bytes <= mem.total_bytes
    assert ("cgroup limit" in probe.detail) == (expected_total == 4294967296)
