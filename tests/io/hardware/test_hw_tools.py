"""Subprocess probes against real scripts that print each tool's captured output."""

from __future__ import annotations

from pathlib import Path

import pytest

from velollm.io.hardware import apple, lspci, nvidia_smi, rocm
from velollm.io.hardware.runner import run_tool

from .hwfakes import DATA, ToolBox

MIB = 1024**2


@pytest.fixture
def box(tmp_path: Path) -> ToolBox:
    return ToolBox(tmp_path)


def test_nvidia_smi_multi_gpu_csv(box: ToolBox) -> None:
    box.tool("nvidia-smi", "nvidia-smi-2gpu.csv")
    gpus, probe = nvidia_smi.probe(box.ctx(), 2.0)
    assert probe.status == "ok"
    assert [(g.index, g.name) for g in gpus] == [(0, "NVIDIA GeForce RTX 4090"),
                                                 (1, "NVIDIA GeForce RTX 3090")]
    first = gpus[0]
    assert first.vram_total_bytes == 24564 * MIB and first.vram_free_bytes == 23975 * MIB
    assert (first.driver_version, first.compute_capability) == ("550.54.15", "8.9")
    assert first.memory_clock_max_mhz == 10501 and first.source == "nvidia-smi"
    assert first.pcie is not None and (first.pcie.generation, first.pcie.width) == (4, 16)
    assert first.uuid == "GPU-6f3a1c2e-8d4b-4a57-9f0e-2b1c3d4e5f60"


def test_nvidia_smi_not_available_values_read_as_unknown(box: ToolBox) -> None:
    box.tool("nvidia-smi", "nvidia-smi-h100-na.csv")
    (gpu,), _ = nvidia_smi.probe(box.ctx(), 2.0)
    assert gpu.pcie is None and gpu.compute_capability == "9.0"


def test_nvidia_smi_old_driver_retries_without_compute_cap(box: ToolBox) -> None:
    # Drivers before 510 reject the whole query when one field is unknown.
    box.script("nvidia-smi", f"""case "$*" in
  *compute_cap*) echo 'Field "compute_cap" is not a valid field to query.'; exit 2;;
  *) cut -d, -f1-6,8- '{DATA / "nvidia-smi-2gpu.csv"}';;
esac""")
    gpus, probe = nvidia_smi.probe(box.ctx(), 2.0)
    assert probe.status == "ok" and len(gpus) == 2
    assert gpus[0].compute_capability is None and gpus[0].memory_clock_max_mhz == 10501


def test_nvidia_smi_broken_driver_is_an_error_with_its_reason(box: ToolBox) -> None:
    box.tool("nvidia-smi", "nvidia-smi-broken.txt", exit_code=9)
    gpus, probe = nvidia_smi.probe(box.ctx(), 2.0)
    assert gpus == [] and probe.status == "error"
    assert "exited 9" in probe.detail
    assert "couldn't communicate with the NVIDIA driver" in probe.detail


def test_missing_tool_is_absent(box: ToolBox) -> None:
    gpus, probe = nvidia_smi.probe(box.ctx(), 2.0)
    assert gpus == [] and probe.status == "absent"
    assert probe.detail == "nvidia-smi not found on PATH"


def test_hanging_tool_times_out_and_its_children_are_killed(box: ToolBox) -> None:
    pidfile = box.root / "sleeper.pid"
    # Not `exec sleep`: the child keeps stdout open after the shell dies unless the group is killed.
    box.script("rocm-smi", f"sleep 60 &\necho $! > '{pidfile}'\nwait")
    gpus, probe = rocm.probe_rocm_smi(box.ctx(), 0.5)
    assert gpus == [] and probe.status == "timeout"
    assert "did not answer within 0.5 s" in probe.detail
    if pidfile.exists() and pidfile.read_text().strip():  # a loaded machine may kill it sooner
        sleeper = int(pidfile.read_text())
        assert not Path(f"/proc/{sleeper}").exists() or "Z" in _proc_state(sleeper)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


def test_tool_that_cannot_start_is_an_error(box: ToolBox) -> None:
    broken = box.bin / "lspci"
    broken.write_text("not a script")
    broken.chmod(0o755)
    result = run_tool(["lspci"], timeout=1.0, which=lambda _n: str(broken))
    assert result.status == "error" and "could not start" in result.detail


def test_rocm_smi_two_cards(box: ToolBox) -> None:
    box.script("rocm-smi", "echo 'WARNING: AMD GPU device(s) is/are in a low-power state.'\n"
               f"cat '{DATA / 'rocm-smi-2gpu.json'}'")
    gpus, probe = rocm.probe_rocm_smi(box.ctx(), 2.0)
    assert probe.status == "ok"
    assert [(g.index, g.name, g.vendor) for g in gpus] == [
        (0, "Radeon RX 7900 XTX", "amd"), (1, "Radeon RX 7900 XTX", "amd")]
    assert gpus[0].vram_total_bytes == 25753026560
    assert gpus[0].vram_free_bytes == 25753026560 - 1045667840
    assert gpus[0].compute_capability == "gfx1100" and gpus[0].source == "rocm-smi"


def test_amd_smi_static_and_memory(box: ToolBox) -> None:
    box.script("amd-smi", f"""case "$1" in
  static) cat '{DATA / "amd-smi-static.json"}';;
  metric) cat '{DATA / "amd-smi-metric-mem.json"}';;
  *) exit 2;;
esac""")
    (gpu,), probe = rocm.probe_amd_smi(box.ctx(), 2.0)
    assert probe.status == "ok"
    assert gpu.name == "AMD Instinct MI300X" and gpu.source == "amd-smi"
    assert gpu.vram_total_bytes == 196592 * MIB and gpu.vram_free_bytes == 196309 * MIB
    assert gpu.memory_bus_width_bits == 8192 and gpu.compute_capability == "gfx942"


def test_amd_smi_older_string_sizes() -> None:
    static = '[{"gpu": 0, "asic": {"market_name": "AMD Radeon PRO W7900"}, ' \
             '"vram": {"type": "GDDR6", "size": "49136 MB"}}]'
    (gpu,) = rocm.parse_amd_smi(static)
    assert gpu.vram_total_bytes == 49136 * MIB and gpu.vram_free_bytes is None
    assert gpu.notes == ("free VRAM unknown",)


def test_apple_silicon_unified_memory_budget(box: ToolBox) -> None:
    box.tool("system_profiler", "system_profiler-m2pro.json")
    box.tool("sysctl", "sysctl-hw.memsize.txt")
    (gpu,), probe = apple.probe(box.ctx(system="darwin"), 2.0)
    assert probe.status == "ok"
    assert (gpu.vendor, gpu.name, gpu.source) == ("apple", "Apple M2 Pro", "system_profiler")
    assert gpu.unified_memory is True
    assert gpu.vram_total_bytes == 34359738368 * 2 // 3  # 32 GiB Mac: 2/3 of RAM
    assert gpu.compute_capability == "metal3"
    assert any("unified memory" in n for n in gpu.notes) and "19 GPU cores" in gpu.notes


def test_apple_budget_above_36_gib_is_three_quarters() -> None:
    assert apple.gpu_budget(64 * 1024**3) == 48 * 1024**3


def test_apple_without_sysctl_keeps_the_gpu_with_unknown_size(box: ToolBox) -> None:
    box.tool("system_profiler", "system_profiler-m2pro.json")
    (gpu,), probe = apple.probe(box.ctx(system="darwin"), 2.0)
    assert gpu.vram_total_bytes is None and "unified memory size unknown" in probe.detail


def test_lspci_names_only_and_says_so(box: ToolBox) -> None:
    box.tool("lspci", "lspci-mm-intel-nvidia.txt")
    gpus, probe = lspci.probe(box.ctx(), 2.0)
    assert probe.status == "ok"
    assert [(g.vendor, g.name) for g in gpus] == [
        ("intel", "Raptor Lake-S GT1 [UHD Graphics 770]"), ("nvidia", "AD102 [GeForce RTX 4090]")]
    assert all(g.vram_total_bytes is None and lspci.NOTE in g.notes for g in gpus)


def test_lspci_skips_server_bmc_adapter(box: ToolBox) -> None:
    box.tool("lspci", "lspci-mm-server.txt")
    gpus, probe = lspci.probe(box.ctx(), 2.0)
    assert [g.vendor for g in gpus] == ["nvidia", "amd"]
    assert "ignored 1 server management" in probe.detail
