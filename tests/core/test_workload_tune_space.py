"""Workload scores and the tune search space, pure: every objective oriented higher-is-better,
failed requests never a figure, and candidates pruned before they run with the reason."""

from __future__ import annotations

import pytest

from velollm.core.models import ModelInfo
from velollm.core.tune_space import Candidate, for_workload, llama_space, pins, prune, to_args
from velollm.core.workload import (
    RequestResult,
    Round,
    Workload,
    parse_duration,
    round_score,
    score,
)
from velollm.errors import VelollmError

OK = RequestResult(ttft_ms=100.0, decode_tps=20.0, tokens=50)


def test_throughput_counts_tokens_over_the_rounds_wall_time() -> None:
    assert score(Workload(), Round((OK, OK), wall_s=5.0)) == 20.0


def test_ttft_p95_is_negated_so_that_higher_is_better() -> None:
    slow = RequestResult(ttft_ms=900.0, decode_tps=20.0, tokens=50)
    w = Workload(objective="ttft_p95")
    assert score(w, Round((OK,) * 19 + (slow,), 1.0)) == -100.0  # the 19th of 20 values
    assert score(w, Round((OK,) * 18 + (slow, slow), 1.0)) == -900.0


def test_throughput_under_a_ttft_limit_is_zero_when_the_limit_is_missed() -> None:
    w = Workload(objective="throughput_under_ttft", ttft_limit_ms=50.0)
    assert score(w, Round((OK, OK), 5.0)) == 0.0
    assert score(Workload(objective="throughput_under_ttft", ttft_limit_ms=200.0),
                 Round((OK, OK), 5.0)) == 20.0


def test_a_round_with_many_failed_requests_is_no_figure() -> None:
    bad = RequestResult(None, None, 0, problem="cut")
    assert score(Workload(), Round((OK, bad), 1.0)) is None
    assert score(Workload(), Round((OK, OK, OK, bad), 1.0)) is not None


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90.0), ("10m", 600.0), ("1h", 3600.0),
                                                ("45", 45.0), ("1.5m", 90.0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "soon", "nan"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_space_offers_no_more_slots_than_concurrent_requests() -> None:
    space = llama_space(Workload(concurrency=3), cores=8)
    assert space.dimensions["parallel"] == (1, 2, 3)
    assert space.dimensions["threads"] == (1, 4, 8)
    assert "fit_target" not in space.dimensions
    assert "fit_target" in llama_space(Workload(), cores=8, gpus=1).dimensions


MODEL = ModelInfo("m", "llama", 30, 576, 9, (3,) * 30, 64, 64, 8192, 100 * 2**20)


def test_rules_and_the_memory_model_prune_before_anything_runs() -> None:
    w = Workload(concurrency=4, prompt_tokens=1000, output_tokens=200)
    base = {"parallel": 2, "batch_size": 2048, "ubatch_size": 512, "flash_attention": "on",
            "kv_cache_type": "f16"}
    assert prune(base, w, MODEL, 8 * 2**30) is None
    assert "needs flash attention" in (prune({**base, "flash_attention": "off",
                                              "kv_cache_type": "q8_0"}, w, MODEL, 8 * 2**30)
                                       or "")
    assert "clamps" in (prune({**base, "batch_size": 512, "ubatch_size": 1024}, w, MODEL,
                              8 * 2**30) or "")
    assert "idle slots" in (prune({**base, "parallel": 8}, w, MODEL, 8 * 2**30) or "")
    assert "GiB available" in (prune(base, w, MODEL, 50 * 2**20) or "")


def test_flags_and_pins_use_the_context_per_slot() -> None:
    w = Workload(concurrency=2, prompt_tokens=200, output_tokens=56)
    cand = {"parallel": 2, "ubatch_size": 256, "kv_cache_type": "q8_0", "flash_attention": "on"}
    assert w.context_per_slot == 512
    assert to_args(cand, w) == ["-c", "1024", "-np", "2", "-ub", "256", "-fa", "on",
                                "-ctk", "q8_0", "-ctv", "q8_0"]
    assert to_args({}, w) == ["-c", "1024"]  # the server's defaults, with room for the load
    assert pins(cand, w) == {"context_length": 512, **cand}


def test_the_roofline_of_one_stream_and_of_many() -> None:
    from velollm.core.workload import roofline

    one = roofline("decode_speed", 30.0, 4, 4e9, "cpu", 100_000_000)
    assert one is not None and one.per_stream_tps == 40.0 and one.streams == 1
    assert one.share == 0.75
    many = roofline("throughput", 120.0, 4, 4e9, "cpu", 100_000_000)
    assert many is not None and many.share == 0.75  # 4 streams share one read of the weights
    assert roofline("ttft_p95", -100.0, 1, 4e9, "cpu", 100_000_000) is None


def test_the_rule_based_choice_gets_a_slot_per_concurrent_request_that_fits() -> None:
    w = Workload(concurrency=4, prompt_tokens=1000, output_tokens=200)
    rules = {"parallel": 1, "batch_size": 2048, "ubatch_size": 512, "flash_attention": "on",
             "kv_cache_type": "f16"}

    def fits(c: Candidate) -> str | None:
        return prune(c, w, MODEL, 8 * 2**30)

    assert for_workload(rules, "parallel", 4, fits) == {**rules, "parallel": 4}
    two_fit = {**rules, "parallel": 8}  # the generic rules' guess, more than the load needs
    assert for_workload(two_fit, "parallel", 4,
                        lambda c: "needs 9 GiB" if c["parallel"] > 2 else None)["parallel"] == 2
    refused = {**rules, "flash_attention": "off", "kv_cache_type": "q8_0"}  # not the slots
    assert for_workload(refused, "parallel", 4, fits)["parallel"] == 4


def test_a_round_that_measured_nothing_fails_the_candidate_with_the_first_reason() -> None:
    bad = RequestResult(None, None, 0, problem="connection reset")
    with pytest.raises(VelollmError, match="2 of 2 requests failed: connection reset"):
        round_score(Workload(), Round((bad, bad), 1.0))
    assert round_score(Workload(), Round((OK, OK), 1.0)) == score(Workload(), Round((OK, OK), 1.0))
