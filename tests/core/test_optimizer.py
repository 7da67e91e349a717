"""The optimizer on a table of machines x models, per objective, with pins and version gating."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hwvalues import gpu, machine
from velollm.backends.ollama.knobs import capabilities
from velollm.core import models
from velollm.core.hardware import Gpu, Hardware, Vendor
from velollm.core.memory import GIB
from velollm.core.optimizer import DesiredInput, Settings, recommend

G = GIB


def _gpu(vendor: Vendor, name: str, vram: int | None, cc: str | None = None) -> Gpu:
    return gpu(vendor, name, vram, cc=cc)


def _hw(gpus: list[Gpu], ram: int, cores: int) -> Hardware:
    return machine(*gpus, ram=ram, cores=cores)


MACHINES = {
    "laptop-8gb-cpu": _hw([], 8 * G, 4),
    # Apple: the GPU budget is 2/3 of 16 GB unified memory (what detect reports).
    "apple-m-16gb": _hw([_gpu("apple", "Apple M2", 16 * G * 2 // 3)], 16 * G, 8),
    "rtx4090": _hw([_gpu("nvidia", "RTX 4090", 24 * G, "8.9")], 64 * G, 16),
    "2xa100": _hw([_gpu("nvidia", "A100 80GB", 80 * G, "8.0")] * 2, 512 * G, 64),
    "h100": _hw([_gpu("nvidia", "H100 80GB", 80 * G, "9.0")], 256 * G, 32),
    "cpu-server-256gb": _hw([], 256 * G, 64),
}
MODELS = {"1b": "llama3.2:1b", "8b": "llama3.1:8b", "70b": "llama3.3:70b"}


def _plan(machine: str, model: str, objective: str = "balanced", version: str = "0.12.4",
          **kw: Any) -> Settings:
    info = models.offline(MODELS.get(model, model))
    assert info is not None
    return recommend(MACHINES[machine], DesiredInput(objective=objective, **kw), [info],
                     capabilities(version))


# (machine, model, num_parallel, context, outcome). Balanced wants 8192 tokens, then up to 4 slots,
# keeping 10 % of the budget spare. Why each row:
TABLE = [
    # CPU laptop: 8 GiB - 2 GiB for the OS = 6 GiB. 1B (1.2 GiB) takes 4 x 8192 f16 (1 GiB KV).
    ("laptop-8gb-cpu", "1b", 4, 8192, "fits"),
    # 8B: 4.6 GiB of weights leave room for one 2048-token slot only.
    ("laptop-8gb-cpu", "8b", 1, 2048, "fits"),
    # 70B: 39.6 GiB of weights in 6 GiB: cannot load at all.
    ("laptop-8gb-cpu", "70b", 1, 2048, "fail to load"),
    # Apple 10.7 GiB GPU budget (512 MiB Metal reserve): 8B at 4 x 8192 q8_0 (2.1 GiB KV) fits.
    ("apple-m-16gb", "1b", 4, 8192, "fits"),
    ("apple-m-16gb", "8b", 4, 8192, "fits"),
    ("apple-m-16gb", "70b", 1, 2048, "fail to load"),
    ("rtx4090", "1b", 4, 8192, "fits"),
    ("rtx4090", "8b", 4, 8192, "fits"),
    # 70B on 24 GiB: about half the layers fit, the rest runs from 64 GiB RAM: a warning, and the
    # smallest footprint so the least spills.
    ("rtx4090", "70b", 1, 2048, "runs on the CPU"),
    ("2xa100", "70b", 4, 8192, "fits"),
    ("h100", "1b", 4, 8192, "fits"),
    ("h100", "8b", 4, 8192, "fits"),
    ("h100", "70b", 4, 8192, "fits"),
    ("cpu-server-256gb", "8b", 4, 8192, "fits"),
    ("cpu-server-256gb", "70b", 4, 8192, "fits"),
]


@pytest.mark.parametrize(("machine", "model", "parallel", "ctx", "outcome"), TABLE)
def test_machine_model_table(machine: str, model: str, parallel: int, ctx: int,
                             outcome: str) -> None:
    s = _plan(machine, model)
    env = s.server_env()
    assert env["num_parallel"] == parallel
    assert env["context_length"] == ctx
    assert s.offline
    if outcome == "fits":
        assert not s.warnings
        reason = s.get("num_parallel")
        assert reason is not None and "to spare" in reason.reason
        assert f"{ctx}-token" in reason.reason and MODELS[model] in reason.reason
    else:
        assert any(outcome in w and "GiB" in w for w in s.warnings), s.warnings
    cpu = not MACHINES[machine].gpus
    assert ("kv_cache_type" in env) is not cpu  # a quantized cache needs a GPU's flash attention
    if cpu:
        assert s.model_params(MODELS[model])["num_thread"] == MACHINES[machine].cpu.physical_cores


def test_reason_has_the_numbers() -> None:
    # 4 x 8192 tokens x 32 layers x 8 KV heads x 256 dims x 34/32 bytes = 2.125 GiB; the file is
    # 4920753328 bytes = 4.6 GiB.
    r = _plan("rtx4090", "8b").get("num_parallel")
    assert r is not None and r.source == "optimizer" and r.scope == "server"
    assert r.reason.startswith("num_parallel = 4: four 8192-token KV caches for llama3.1:8b "
                               "(q8_0) take 2.1 GiB; with weights 4.6 GiB")
    assert "fits in 24.0 GiB of VRAM with" in r.reason


def test_two_a100_keep_70b_on_one_gpu() -> None:
    s = _plan("2xa100", "70b")
    assert "sched_spread" not in s.server_env()
    assert not s.warnings


def test_objectives_differ_for_real() -> None:
    got = {o: _plan("rtx4090", "8b", o) for o in
           ("balanced", "throughput", "latency", "long-context", "low-memory", "cpu-only")}
    env = {o: s.server_env() for o, s in got.items()}
    assert env["throughput"]["num_parallel"] == 8 and env["throughput"]["max_queue"] == 1024
    assert got["throughput"].model_params("llama3.1:8b")["num_batch"] == 1024
    assert env["latency"]["num_parallel"] == 1 and env["latency"]["kv_cache_type"] == "f16"
    assert env["latency"]["keep_alive"] == "-1"
    # 131072 tokens of q8_0 KV = 8.5 GiB + 4.6 GiB weights + graph fit the 24 GiB card.
    assert env["long-context"]["context_length"] == 131072
    assert env["low-memory"]["kv_cache_type"] == "q4_0"
    assert env["low-memory"]["max_loaded_models"] == 1
    assert got["cpu-only"].model_params("llama3.1:8b") == {"num_gpu": 0, "num_thread": 16}
    assert "kv_cache_type" not in env["cpu-only"]
    assert len({str(sorted(e.items())) for e in env.values()}) == 6


def test_long_context_is_limited_by_memory() -> None:
    # On the 10.7 GiB Apple budget 8B cannot hold 131072 tokens (8.5 GiB of q8_0 KV + 4.6 GiB).
    ctx = _plan("apple-m-16gb", "8b", "long-context").server_env()["context_length"]
    assert 8192 <= ctx < 131072


def test_pin_wins_even_when_it_cannot_fit() -> None:
    s = _plan("laptop-8gb-cpu", "8b", server={"num_parallel": 8, "context_length": 32768})
    par = s.get("num_parallel")
    assert par is not None and par.value == 8 and par.source == "pin"
    assert s.server_env()["context_length"] == 32768
    assert any("pinned" in w and "GiB" in w and "32768 tokens x 8" in w for w in s.warnings)


def test_model_pin_wins() -> None:
    s = _plan("h100", "8b", models={"llama3.1:8b": {"num_ctx": 16384, "num_thread": 6}})
    params = s.model_params("llama3.1:8b")
    assert params == {"num_ctx": 16384, "num_thread": 6}
    rec = s.get("num_ctx", "llama3.1:8b")
    assert rec is not None and rec.source == "pin" and rec.scope == "model"


def test_auto_is_not_a_pin() -> None:
    s = _plan("h100", "8b", server={"num_parallel": "auto"})
    rec = s.get("num_parallel")
    assert rec is not None and rec.source == "optimizer"


def test_old_ollama_gets_context_per_model() -> None:
    # 0.5.4 does not read OLLAMA_CONTEXT_LENGTH (from 0.5.13 on): num_ctx goes into the model.
    s = _plan("rtx4090", "8b", version="0.5.4")
    assert "context_length" not in s.server_env()
    rec = s.get("num_ctx", "llama3.1:8b")
    assert rec is not None and rec.value == 8192 and "0.5.13" in rec.reason


def test_knob_older_than_version_is_not_recommended() -> None:
    s = _plan("rtx4090", "8b", version="0.4.0")  # OLLAMA_KV_CACHE_TYPE arrived in 0.5.0
    assert "kv_cache_type" not in s.server_env()
    pinned = _plan("rtx4090", "8b", version="0.4.0", server={"kv_cache_type": "q8_0"})
    # said once, as a note (plan's warnings no longer repeat it)
    assert pinned.notes == ("kv_cache_type = q8_0: OLLAMA_KV_CACHE_TYPE is read from Ollama "
                            + "0.5.0 on; this is 0.4.0, so velollm does not write it",)
    assert not any("kv_cache_type" in w and "0.5.0" in w for w in pinned.warnings)


def test_gemma2_cache_stays_f16_before_0_30() -> None:
    s = _plan("rtx4090", "gemma2:9b", version="0.12.4")
    assert any("gemma2:9b" in w and "f16" in w for w in s.warnings)
    assert not any("gemma2" in w for w in _plan("rtx4090", "gemma2:9b",
                                                 version="0.30.0").warnings)


def test_models_that_fit_together() -> None:
    infos = [models.offline("llama3.2:1b"), models.offline("llama3.1:8b")]
    s = recommend(MACHINES["rtx4090"], DesiredInput(), [m for m in infos if m], capabilities("0.12.4"))
    assert s.server_env()["max_loaded_models"] == 2
    assert "llama3.2:1b, llama3.1:8b" in (s.get("max_loaded_models") or s.server[0]).reason


def test_unknown_objective_is_refused() -> None:
    with pytest.raises(ValueError, match="objective"):
        _plan("h100", "8b", "fastest")


def test_no_models_gets_the_profile_defaults() -> None:
    s = recommend(MACHINES["h100"], DesiredInput(objective="throughput"), [],
                  capabilities("0.12.4"))
    assert s.server_env()["num_parallel"] == 8
    assert "max_loaded_models" not in s.server_env()
    assert not s.offline


def test_unknown_memory_is_said() -> None:
    hw = machine(_gpu("nvidia", "mystery", None))  # nothing else known: no RAM size either
    s = recommend(hw, DesiredInput(), [], capabilities(None))
    assert any("VRAM unknown" in w for w in s.warnings)
    assert any("RAM size unknown" in w for w in s.warnings)


def test_partial_offload_gets_cpu_threads() -> None:
    # 70B on 24 GiB: the layers left on the CPU run with one thread per physical core.
    s = _plan("rtx4090", "70b")
    assert s.model_params("llama3.3:70b") == {"num_thread": 16}
    rec = s.get("num_thread", "llama3.3:70b")
    assert rec is not None and "of 81 layers run on the CPU" in rec.reason


def test_pinned_larger_num_ctx_reason_is_not_a_fit_failure() -> None:
    from velollm.core import optimizer as opt

    hw = machine(gpu("nvidia", "RTX 4090", 24 * 2**30, free=24 * 2**30), ram=64 * 2**30,
                 cores=16)
    from velollm.core.models import offline

    model = offline("llama3.1:8b")
    assert model is not None
    settings = opt.recommend(hw, opt.DesiredInput({}, {"llama3.1:8b": {"num_ctx": 16384}},
                                                  "balanced"), [model], capabilities("0.12.4"))
    rec = settings.get("num_ctx", "llama3.1:8b")
    assert rec is not None and rec.value == 16384
    assert "would not fit" not in rec.reason
    assert "16384 tokens" in rec.reason


def test_cpu_flash_attention_follows_the_version() -> None:
    """Ollama runs llama-server from 0.30, whose flash attention works on the CPU: a quantized
    KV cache pays there; before, Ollama turned flash attention off without a GPU."""
    old = _plan("laptop-8gb-cpu", "1b", version="0.12.4")
    assert old.get("flash_attention").value is None  # type: ignore[union-attr]
    assert "turns flash attention off" in old.get("flash_attention").reason  # type: ignore[union-attr]
    new = _plan("laptop-8gb-cpu", "1b", version="0.30.0")
    assert new.get("flash_attention").value is True  # type: ignore[union-attr]
    assert "the CPU" in new.get("flash_attention").reason  # type: ignore[union-attr]
    assert new.get("kv_cache_type").value == "q8_0"  # type: ignore[union-attr]  # balanced
    pinned_off = _plan("laptop-8gb-cpu", "1b", version="0.30.0", server={"flash_attention": False})
    assert pinned_off.get("kv_cache_type").value is None  # type: ignore[union-attr]
