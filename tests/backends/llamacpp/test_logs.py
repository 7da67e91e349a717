"""logs.py on start-up logs of the real llama-server build 11669 (tests/data/llamacpp/*.log,
captured by tests/realrt/capture_llama_logs.sh), and on a log appended to across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from velollm.backends.llamacpp import logs
from velollm.errors import VelollmError

DATA = Path(__file__).resolve().parents[2] / "data" / "llamacpp"


def facts(name: str) -> logs.LogFacts:
    return logs.parse((DATA / f"{name}.log").read_text(encoding="utf-8"))


def test_default_verbosity_tells_only_the_slots() -> None:
    f = facts("default_verbosity")  # -c 2048 -np 2
    assert (f.n_slots, f.n_ctx_slot, f.kv_unified) == (2, 1024, False)
    assert f.flash_attn is None and f.type_k is None and not f.verbose


def test_flash_attention_on_and_quantized_kv() -> None:
    f = facts("fa_on_q8")  # -lv 4 -c 2048 -np 2 -fa on -ctk q8_0 -ctv q8_0
    assert (f.flash_attn, f.type_k, f.type_v) == ("enabled", "q8_0", "q8_0")
    assert (f.n_ctx, f.n_slots, f.n_ctx_slot) == (2048, 2, 1024)
    assert f.kv_mib == pytest.approx(23.91)
    kinds = {(b.device, b.kind): b.mib for b in f.buffers}
    assert kinds[("CPU_Mapped", "model")] == pytest.approx(92.10)
    assert kinds[("CPU", "KV")] == pytest.approx(23.91)
    assert kinds[("CPU", "compute")] > 0
    assert f.projected_mib == 131 and f.fit_result == "successfully fit params"
    assert f.verbose


def test_auto_flash_attention_is_resolved_by_a_later_line() -> None:
    f = facts("fa_auto")  # `flash_attn = auto`, then `resolve_fused_ops: Flash Attention enabled`
    assert f.flash_attn == "enabled"
    assert facts("fa_auto_quantized_v").flash_attn == "enabled"  # forced by the q8_0 V cache
    assert facts("fa_auto_quantized_v").type_v == "q8_0"


def test_older_wording_of_the_decision() -> None:
    text = ("llama_server: initializing\nI llama_context: flash_attn = auto\n"
            "I llama_context: Flash Attention was auto, set to disabled\n")
    assert logs.parse(text).flash_attn == "disabled"


def test_fit_reduced_the_context() -> None:
    f = facts("fit_reduced")  # -fitt 23990 on a 24 GB machine, no -c: fit halves the context
    assert (f.fit_context_from, f.fit_context_to) == (8192, 4096)
    assert f.fit_result is not None and f.fit_result.startswith("failed to fit")
    assert (f.n_ctx, f.n_slots, f.n_ctx_slot, f.parallel_auto) == (4096, 4, 4096, 4)


def test_parallel_auto_and_unified_kv() -> None:
    f = facts("parallel_auto")  # no -np: 4 slots sharing one 8192-cell cache
    assert (f.parallel_auto, f.n_slots, f.n_ctx_slot, f.kv_unified) == (4, 4, 8192, True)


def test_a_failed_start_lists_its_errors() -> None:
    f = facts("fa_off_quantized_v")  # -fa off -ctv q8_0: the server exits
    assert "llama_init_from_model: quantized V cache requires flash_attn to be enabled" in f.errors
    assert f.n_slots is None


def test_only_the_last_start_counts() -> None:
    text = (DATA / "fa_on_q8.log").read_text() + (DATA / "default_verbosity.log").read_text()
    f = logs.parse(text)
    assert f.type_k is None and f.n_slots == 2  # the q8_0 cache was the previous run's


def test_unreadable_log_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VelollmError, match="cannot read the llama-server log"):
        logs.read_log(tmp_path / "missing.log")
