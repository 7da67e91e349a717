"""Ollama >= 0.30 plans with llama-server's allocation (core/memory_llama.py); older keeps memory.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.hwvalues import gpu, machine
from velollm.backends.ollama.knobs import capabilities
from velollm.core import models
from velollm.core.llama_memory import LlamaSettings, allocate
from velollm.core.memory import GIB, MIB, Estimate, estimate
from velollm.core.memory import Gpu as FreeGpu
from velollm.core.memory_llama import LlamaEstimate, estimate_llama, ollama_batch, runs_llama_server
from velollm.core.memory_rows import rows
from velollm.core.optimizer import DesiredInput, recommend
from velollm.core.optimizer_profiles import PROFILES, budget
from velollm.core.optimizer_values import choose


@pytest.mark.parametrize(("version", "llama"), [("0.30.0", True), ("0.33.0-rc2", True),
                                                 ("0.29.9", False), ("0.5.4-ipexllm-20250407", False),
                                                 (None, False)])
def test_llama_server_era_by_version(version: str | None, llama: bool) -> None:
    assert runs_llama_server(capabilities(version)) is llama
    assert not runs_llama_server(replace(capabilities("0.33.0"), backend="llamacpp"))


def test_ollama_picks_the_batch_by_context() -> None:
    assert [ollama_batch(c) for c in (2048, 4096, 4097, 32768, 32769)] == [512, 512, 1024, 1024, 2048]


def test_estimate_is_the_llama_allocation() -> None:
    info = models.offline("llama3.1:8b")
    assert info is not None
    est = estimate_llama(info, 8192, 2, "q8_0")
    alloc = allocate(info, LlamaSettings(8192, 2, ubatch=1024, batch=1024, type_k="q8_0",
                                         type_v="q8_0"))
    assert est.total == alloc.total_bytes and est.buffer_layer == 0
    assert est.kv == alloc.devices[0].kv_bytes == 32 * 8 * 128 * 2 * 16384 * 34 // 32
    place = est.fits([FreeGpu(6 * GIB)])  # 4.6 GiB of weights do not all fit with 1 GiB kept free
    assert 0 < place.layers < place.total_layers
    assert place.gpu_bytes[0] <= 5 * GIB


def _choice(version: str) -> dict[str, Estimate]:
    info = models.offline("llama3.1:8b")
    assert info is not None
    hw = budget(machine(gpu("nvidia", "RTX 4090", 24 * GIB, cc="8.9"), ram=64 * GIB, cores=16))
    return choose(PROFILES["balanced"], hw, {}, {}, [info], capabilities(version), []).estimates


def test_optimizer_uses_the_llama_model_from_030_only() -> None:
    new, old = _choice("0.33.0"), _choice("0.12.4")
    est = new["llama3.1:8b"]
    assert isinstance(est, LlamaEstimate) and not isinstance(old["llama3.1:8b"], LlamaEstimate)
    gpu0 = est.allocation([FreeGpu(int(24 * GIB * 0.9))]).device("gpu0")
    assert gpu0 is not None and est.fits([FreeGpu(int(24 * GIB * 0.9))]).full
    assert gpu0.total_bytes + 1024 * MIB <= 24 * GIB * 0.9


KEYS = {"model", "device", "weights_bytes", "kv_bytes", "compute_bytes", "other_bytes",
        "total_bytes"}


@pytest.mark.parametrize("version", ["0.12.4", "0.33.0"])
def test_settings_carry_memory_rows_per_model_and_device(version: str) -> None:
    info = models.offline("llama3.1:8b")
    assert info is not None
    rtx = machine(gpu("nvidia", "RTX 4090", 24 * GIB, cc="8.9"), ram=64 * GIB, cores=16)
    settings = recommend(rtx, DesiredInput(), [info], capabilities(version))
    assert settings.memory and all(set(r) == KEYS for r in settings.memory)
    gpu_row = next(r for r in settings.memory if r["device"] == "gpu0")
    assert gpu_row["model"] == "llama3.1:8b"
    parts = ("weights_bytes", "kv_bytes", "compute_bytes", "other_bytes")
    assert gpu_row["total_bytes"] == sum(int(str(gpu_row[k])) for k in parts)
    assert int(str(gpu_row["weights_bytes"])) > 4 * GIB  # every layer on the GPU
    cpu_only = recommend(machine(ram=64 * GIB, cores=16), DesiredInput(), [info],
                         capabilities(version))
    assert [r["device"] for r in cpu_only.memory] == ["cpu"]


def test_old_estimator_rows_split_a_partial_offload() -> None:
    info = models.offline("llama3.1:8b")
    assert info is not None
    est = estimate(info, 8192, 1)
    gpu_rows = rows(est, [FreeGpu(3 * GIB)])
    cpu, gpu0 = gpu_rows
    assert (cpu["device"], gpu0["device"]) == ("cpu", "gpu0")
    total = sum(int(str(r["weights_bytes"])) + int(str(r["kv_bytes"])) for r in gpu_rows)
    assert abs(total - est.weights - est.kv) <= est.layer_weights  # nothing lost or doubled
