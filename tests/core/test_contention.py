"""The busy-machine rule (issue 14) with plain values: CPU shares from tick counters, and a
"regressed" verdict that becomes "unreliable" when either run was measured under contention."""

from __future__ import annotations

from typing import Any

import pytest

from velollm.core.contention import OTHER_CPU_MAX, STEAL_MAX, Ticks, cause, contention, judge


def _busy(other: float = 0.0, steal: float | None = 0.0, load: float = 1.0) -> dict[str, Any]:
    return {"cpus": 8, "load_before": 0.5, "load_after": load, "server_pid": 42,
            "server_cpu_share": 0.1, "client_cpu_share": 0.01, "other_cpu_share": other,
            "steal_share": steal}


def test_shares_of_all_the_cpu_time() -> None:
    before = Ticks(total=1000, idle=800, steal=0, server=100, own=10, load1=0.5)
    # 1000 ticks passed: 400 idle, 100 stolen, 200 by the server, 50 by velollm -> 250 others
    after = Ticks(total=2000, idle=1200, steal=100, server=300, own=60, load1=3.0)
    got = contention(before, after, 8, 42)
    assert got == {"cpus": 8, "load_before": 0.5, "load_after": 3.0, "server_pid": 42,
                   "server_cpu_share": 0.2, "client_cpu_share": 0.05, "other_cpu_share": 0.25,
                   "steal_share": 0.1}


def test_without_a_server_or_steal_column_system_wide() -> None:
    before = Ticks(total=1000, idle=800, steal=None, server=None, own=0, load1=None)
    after = Ticks(total=2000, idle=1300, steal=None, server=None, own=100, load1=None)
    got = contention(before, after, 4, None)
    assert got["server_pid"] is None and got["server_cpu_share"] is None
    assert got["steal_share"] is None
    assert got["other_cpu_share"] == 0.4  # 500 busy - 100 ours, the server included
    assert contention(before, before, 4, None)["other_cpu_share"] == 0.0  # no time passed


def test_cause_names_the_figures() -> None:
    assert cause(None) is None and cause({}) is None  # older documents, no /proc
    assert cause(_busy(other=OTHER_CPU_MAX, steal=STEAL_MAX)) is None  # at the threshold: quiet
    why = cause(_busy(other=0.43, load=7.9))
    assert why == ("other processes used 43% of the CPU time (more than 20%), "
                   "load average 7.9 on 8 CPUs")
    assert "the hypervisor stole 12% of it (more than 5%)" in str(cause(_busy(steal=0.12)))
    assert cause(_busy(steal=None)) is None


@pytest.mark.parametrize("status", ["improved", "no_regression", "inconclusive", "interrupted"])
def test_only_a_regression_is_downgraded(status: str) -> None:
    assert judge(status, _busy(other=0.9), _busy(other=0.9)) == (status, None)


def test_a_regression_on_a_busy_machine_is_unreliable() -> None:
    assert judge("regressed", _busy(), _busy()) == ("regressed", None)
    assert judge("regressed", None, None) == ("regressed", None)
    status, why = judge("regressed", _busy(other=0.5), None)
    assert status == "unreliable" and str(why).startswith("the baseline: other processes used 50%")
    status, why = judge("regressed", _busy(), _busy(steal=0.3))
    assert status == "unreliable" and str(why).startswith("this run: the hypervisor stole 30%")
    _, why = judge("regressed", _busy(other=0.5), _busy(steal=0.3))
    assert "the baseline: " in str(why) and "; this run: " in str(why)
