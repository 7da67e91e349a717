from __future__ import annotations

import pytest

from velollm.bench.suites import get_suite, scenario_names
from velollm.errors import ConfigError

RUNNER_OPTIONS = {"num_ctx", "num_batch", "num_thread", "num_gpu"}


def test_standard_suite_has_the_seed_benchmarks_plus_concurrency_and_prefill() -> None:
    suite = get_suite("standard", concurrency=3)
    assert [s.name for s in suite.scenarios] == [
        "short_completion", "medium_completion", "code_generation", "long_prompt", "concurrent"]
    assert suite.scenarios[-1].concurrency == 3
    assert (suite.iterations, suite.warmup) == (5, 1)


def test_requests_never_change_runner_options() -> None:
    for s in get_suite("standard").scenarios:
        assert not RUNNER_OPTIONS & set(s.options())
        assert s.options()["temperature"] == 0


def test_prompts_differ_per_request_to_defeat_the_prompt_cache() -> None:
    s = get_suite("standard").scenarios[0]
    assert len({s.prompt_for(i, c) for i in range(3) for c in range(3)}) == 9


def test_quick_single_and_unknown() -> None:
    assert get_suite("quick").iterations == 2
    assert all(s.num_predict <= 32 for s in get_suite("quick").scenarios)
    single = get_suite("long_prompt", iterations=3)
    assert [s.name for s in single.scenarios] == ["long_prompt"]
    assert single.iterations == 3
    with pytest.raises(ConfigError, match="unknown benchmark suite 'fast'") as info:
        get_suite("fast")
    assert info.value.hint is not None
    assert all(n in info.value.hint for n in scenario_names())
    with pytest.raises(ConfigError, match="--iterations"):
        get_suite("standard", iterations=0)
