"""core/plausibility.py: figures no real server produces are refused with the reason; the figures
real servers do produce (Ollama 0.5.4's whole-millisecond durations included) pass."""

from __future__ import annotations

import pytest

from velollm.core.plausibility import Reported, implausible

MS = 1_000_000
# A real 0.5.4 answer (tests/backends/ollama/test_ollama_client.py): 3 tokens in a reported 2 ms.
REAL = Reported(eval_count=3, eval_duration_ns=2 * MS, prompt_eval_count=13,
                prompt_eval_duration_ns=None, total_duration_ns=37_757_165,
                load_duration_ns=1_862_601, text_chunks=3)


def _with(**changes: int | None) -> Reported:
    return Reported(**{**REAL.__dict__, **changes})


@pytest.mark.parametrize("reported", [
    REAL,
    _with(eval_count=32, eval_duration_ns=1 * MS, text_chunks=30),  # 32 000/s: ms rounding
    _with(eval_count=None, eval_duration_ns=None, text_chunks=0),  # nothing generated
    _with(prompt_eval_count=900, prompt_eval_duration_ns=1 * MS),  # prefill: 900 000/s
    _with(eval_count=33, text_chunks=33),  # one past num_predict
])
def test_real_figures_pass(reported: Reported) -> None:
    assert implausible(reported, wall_s=0.04, requested_tokens=32) is None


@pytest.mark.parametrize(("reported", "why"), [
    (_with(eval_count=32, eval_duration_ns=1), ("eval_count 32 in eval_duration 1 ns is 3.2e+10 "
                                               "tokens/s, beyond any real server")),
    (_with(eval_duration_ns=0), "infinitely many tokens/s"),
    (_with(prompt_eval_duration_ns=0), "prompt_eval_count 13 in prompt_eval_duration 0 ns"),
    (_with(eval_count=10**9, text_chunks=0), ("eval_count of 1000000000 tokens is far more "
                                             "than the 32 requested")),
    (_with(total_duration_ns=3600 * 10**9), ("total_duration of 3600 s is longer than the 0.04 s "
                                            "the whole request took")),
    (_with(load_duration_ns=10**15), "load_duration of 1e+06 s is longer"),
    (_with(eval_count=None, text_chunks=3), "eval_count of 0 tokens, but it streamed 3 pieces"),
    (_with(prompt_eval_count=10**12), "more than any context holds"),
])
def test_impossible_figures_say_why(reported: Reported, why: str) -> None:
    reason = implausible(reported, wall_s=0.04, requested_tokens=32)
    assert reason is not None and why in reason


def test_durations_get_slack_for_clock_granularity_only() -> None:
    slightly_over = _with(total_duration_ns=45 * MS)  # 45 ms in a request timed at 40 ms
    assert implausible(slightly_over, wall_s=0.04, requested_tokens=32) is None
    assert implausible(_with(total_duration_ns=200 * MS), wall_s=0.04,
                       requested_tokens=32) is not None
