from __future__ import annotations

import dataclasses

import pynvml
import pytest

from velollm.io.hardware import nvml
from velollm.io.hardware.nvml import bandwidth_gbps

from .hwfakes import H100, RTX4090, fake_pynvml


def test_multi_gpu_reports_every_device_with_bandwidth_and_pcie() -> None:
    module = fake_pynvml([H100, RTX4090])
    gpus, probe = nvml.probe(lambda: module)
    assert probe.status == "ok"
    assert [g.index for g in gpus] == [0, 1]
    h100, rtx = gpus
    assert (h100.name, h100.uuid, h100.vram_total_bytes, h100.vram_free_bytes) == (
        H100.name, H100.uuid, H100.total, H100.free)
    assert h100.compute_capability == "9.0" and rtx.compute_capability == "8.9"
    assert h100.driver_version == "550.54.15" and h100.source == "nvml" and h100.vendor == "nvidia"
    assert h100.memory_bandwidth_gbps == pytest.approx(3352.3, abs=0.1)  # spec sheet: 3.35 TB/s
    assert rtx.memory_bandwidth_gbps == pytest.approx(1008.1, abs=0.1)  # spec sheet: 1008 GB/s
    assert (rtx.pcie.generation, rtx.pcie.width) == (4, 16)  # type: ignore[union-attr]
    assert module.calls == ["init", "shutdown"]


def test_one_lost_gpu_does_not_hide_the_others() -> None:
    lost = dataclasses.replace(RTX4090, lost=True)
    gpus, probe = nvml.probe(lambda: fake_pynvml([H100, lost, H100]))
    assert probe.status == "ok"
    assert [g.index for g in gpus] == [0, 2]
    assert "GPU 1 skipped: GPU is lost" in probe.detail


def test_all_gpus_lost_is_an_error() -> None:
    gpus, probe = nvml.probe(lambda: fake_pynvml([dataclasses.replace(H100, lost=True)]))
    assert gpus == [] and probe.status == "error"


def test_metric_not_supported_reads_as_unknown_with_a_note() -> None:
    consumer = dataclasses.replace(RTX4090, unsupported={"bus", "pcie_gen", "pcie_width"})
    (gpu,), probe = nvml.probe(lambda: fake_pynvml([consumer]))
    assert probe.status == "ok"
    assert gpu.memory_bus_width_bits is None and gpu.memory_bandwidth_gbps is None
    assert gpu.pcie is None
    assert gpu.memory_clock_max_mhz == 10501 and gpu.vram_total_bytes == RTX4090.total
    assert "memory bus width: not supported" in gpu.notes


@pytest.mark.parametrize("code", [pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
                                  pynvml.NVML_ERROR_DRIVER_NOT_LOADED])
def test_no_library_or_driver_means_absent(code: int) -> None:
    module = fake_pynvml([], init_error=code)
    gpus, probe = nvml.probe(lambda: module)
    assert gpus == [] and probe.status == "absent"
    assert "nvmlInit failed" in probe.detail
    assert "shutdown" not in module.calls  # never shut down what never initialised


def test_other_init_failure_is_an_error() -> None:
    gpus, probe = nvml.probe(lambda: fake_pynvml([], init_error=pynvml.NVML_ERROR_NO_PERMISSION))
    assert gpus == [] and probe.status == "error"


def test_nvidia_ml_py_not_installed_is_absent() -> None:
    def missing() -> object:
        raise ImportError("No module named 'pynvml'")

    gpus, probe = nvml.probe(missing)  # type: ignore[arg-type]
    assert gpus == [] and probe.status == "absent"


def test_real_pynvml_on_this_machine_never_raises() -> None:
    gpus, probe = nvml.probe()
    assert probe.status in ("ok", "absent", "error")
    assert (probe.status == "ok") == bool(gpus)


@pytest.mark.parametrize(("bits", "mhz", "expected"), [
    (5120, 1593, 2039.0),  # A100 40GB HBM2e
    (384, 9751, 936.1),  # RTX 3090 GDDR6X
    (None, 2619, None), (5120, 0, None)])
def test_bandwidth(bits: int | None, mhz: int, expected: float | None) -> None:
    assert bandwidth_gbps(bits, mhz) == (pytest.approx(expected, abs=0.1) if expected else None)
