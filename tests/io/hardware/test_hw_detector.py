"""detect(): all probes together, mixed vendors, fallbacks, deadline, and the document round trip."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import ModuleType

import pynvml
import pytest

from velollm.errors import SchemaValidationError
from velollm.io.hardware import Hardware, detect, read_document, validate_document

from .hwfakes import RTX4090, ToolBox, fake_pynvml, install_fixture


@pytest.fixture
def box(tmp_path: Path) -> ToolBox:
    install_fixture(tmp_path, "/proc/cpuinfo", "cpuinfo-x86-sapphire-rapids.txt")
    install_fixture(tmp_path, "/proc/meminfo", "meminfo.txt")
    (tmp_path / "proc/driver/nvidia").mkdir(parents=True)  # the NVIDIA kernel driver is loaded
    return ToolBox(tmp_path)


def _absent_nvml() -> ModuleType:
    return fake_pynvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)


def _roundtrip(hw: Hardware) -> None:
    doc = json.loads(json.dumps(hw.to_dict()))
    validate_document(doc)
    assert Hardware.from_dict(doc) == hw


def test_nvidia_via_nvml_plus_intel_igpu_via_lspci_without_double_counting(box: ToolBox) -> None:
    box.tool("lspci", "lspci-mm-intel-nvidia.txt")
    hw = detect(timeout=2.0, ctx=box.ctx(), nvml_loader=lambda: fake_pynvml([RTX4090]))
    assert [(g.vendor, g.source, g.index) for g in hw.gpus] == [
        ("nvidia", "nvml", 0), ("intel", "lspci", 0)]
    assert hw.gpus[0].memory_bandwidth_gbps is not None
    assert hw.cpu.model == "Intel(R) Xeon(R) Platinum 8480+"
    assert hw.memory.total_bytes == 65536000 * 1024
    assert {p.name: p.status for p in hw.probes}["lspci"] == "ok"
    _roundtrip(hw)


def test_without_nvml_falls_back_to_nvidia_smi_and_amd(box: ToolBox) -> None:
    box.tool("nvidia-smi", "nvidia-smi-2gpu.csv")
    box.tool("rocm-smi", "rocm-smi-2gpu.json")
    box.tool("lspci", "lspci-mm-server.txt")
    hw = detect(timeout=2.0, ctx=box.ctx(), nvml_loader=_absent_nvml)
    assert [(g.vendor, g.source) for g in hw.gpus] == [
        ("nvidia", "nvidia-smi"), ("nvidia", "nvidia-smi"), ("amd", "rocm-smi"), ("amd", "rocm-smi")]
    statuses = {p.name: p.status for p in hw.probes}
    assert statuses["nvml"] == "absent" and statuses["nvidia-smi"] == "ok"
    assert "amd-smi" not in statuses  # rocm-smi answered, so the newer tool was not needed
    _roundtrip(hw)


def test_no_gpu_at_all(box: ToolBox) -> None:
    hw = detect(timeout=2.0, ctx=box.ctx(), nvml_loader=_absent_nvml)
    assert hw.gpus == ()
    statuses = {p.name: p.status for p in hw.probes}
    assert statuses["nvidia-smi"] == statuses["lspci"] == statuses["rocm-smi"] == "absent"
    _roundtrip(hw)


def test_broken_driver_is_reported_not_raised(box: ToolBox) -> None:
    box.tool("nvidia-smi", "nvidia-smi-broken.txt", exit_code=9)
    box.tool("lspci", "lspci-mm-intel-nvidia.txt")
    driver_gone = fake_pynvml([], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    hw = detect(timeout=2.0, ctx=box.ctx(), nvml_loader=lambda: driver_gone)
    # The card is still visible on the bus: lspci lists it (name only) since no richer source did.
    assert [(g.vendor, g.source) for g in hw.gpus] == [("intel", "lspci"), ("nvidia", "lspci")]
    smi = next(p for p in hw.probes if p.name == "nvidia-smi")
    assert smi.status == "error" and "NVIDIA driver" in smi.detail


def test_apple_silicon_mac(box: ToolBox) -> None:
    box.tool("system_profiler", "system_profiler-m2pro.json")
    box.tool("sysctl", "sysctl-hw.memsize.txt")
    hw = detect(timeout=2.0, ctx=box.ctx(system="darwin"), nvml_loader=_absent_nvml)
    assert [(g.vendor, g.unified_memory) for g in hw.gpus] == [("apple", True)]
    assert "nvml" not in {p.name for p in hw.probes}
    _roundtrip(hw)


def test_hung_tool_and_hung_nvml_cost_no_more_than_the_deadline(box: ToolBox) -> None:
    box.script("lspci", "sleep 60")
    release = threading.Event()

    def stuck_nvml() -> ModuleType:
        release.wait(30)  # NVML stuck inside the driver: no timeout can interrupt it
        return _absent_nvml()

    try:
        hw = detect(timeout=0.5, ctx=box.ctx(), nvml_loader=stuck_nvml)
    finally:
        release.set()
    statuses = {p.name: p.status for p in hw.probes}
    assert statuses["lspci"] == "timeout" and statuses["nvml"] == "timeout"
    assert statuses["cpu"] == "ok"
    _roundtrip(hw)


def test_a_crashing_probe_becomes_an_error_probe(box: ToolBox) -> None:
    def crash() -> ModuleType:
        raise RuntimeError("parser bug")

    hw = detect(timeout=1.0, ctx=box.ctx(), nvml_loader=crash)
    nvml_probe = next(p for p in hw.probes if p.name == "nvml")
    assert nvml_probe.status == "error" and "RuntimeError: parser bug" in nvml_probe.detail


def test_invalid_document_lists_every_problem(box: ToolBox) -> None:
    doc = detect(timeout=1.0, ctx=box.ctx(), nvml_loader=_absent_nvml).to_dict()
    doc["memory"]["total_bytes"] = -1
    doc["gpus"] = [{"index": 0}]
    with pytest.raises(SchemaValidationError) as info:
        read_document(doc)
    paths = {p["path"] for p in info.value.problems}
    assert "$.memory.total_bytes" in paths and "$.gpus[0]" in paths


def test_without_the_nvidia_kernel_driver_pynvml_is_not_even_loaded(tmp_path: Path) -> None:
    box = ToolBox(tmp_path)
    box.tool("nvidia-smi", "nvidia-smi-broken.txt", exit_code=9)

    def must_not_load() -> ModuleType:
        raise AssertionError("pynvml loaded although no NVIDIA driver is present")

    hw = detect(timeout=1.0, ctx=box.ctx(), nvml_loader=must_not_load)
    probes = {p.name: p for p in hw.probes}
    assert probes["nvml"].status == "absent" and "/proc/driver/nvidia" in probes["nvml"].detail
    assert probes["nvidia-smi"].status == "error"  # the fallback still runs and says why
