"""effects.py: the judgement of one setting from the process's values and what the server does
(unit tests of the boundary; the real-server cases are in test_verify_realserver.py)."""

from __future__ import annotations

from dataclasses import replace

from velollm.backends.base import Observed
from velollm.backends.llamacpp import effects
from velollm.backends.llamacpp.logs import LogFacts

ENV = "running server (pid 9) environment"
ARGV = "running server (pid 9) command line"
BASE = effects.Evidence(settings={}, pid=9, props=None, log=None, metrics_enabled=None,
                        base_port=8080, target_kind="shell", managed_by="none", unit=None,
                        restarted_since_apply=True, files=("/home/u/.config/llama.sh",))


def test_the_log_contradicts_the_environment() -> None:
    ev = replace(BASE, settings={"LLAMA_ARG_FLASH_ATTN": Observed("on", ENV)},
                 log=LogFacts(flash_attn="disabled", verbose=True))
    e = effects.check("LLAMA_ARG_FLASH_ATTN", "on", ev)
    assert (e.status, e.observed) == ("not effective", "off")
    assert "started with LLAMA_ARG_FLASH_ATTN=on but runs with off (its log)" in e.why


def test_batch_capped_at_the_context_is_still_the_setting() -> None:
    ev = replace(BASE, settings={"LLAMA_ARG_BATCH": Observed("2048", ENV)},
                 log=LogFacts(n_ctx=1024, n_batch=1024, verbose=True))
    assert effects.check("LLAMA_ARG_BATCH", "2048", ev).status == "effective"
    ev = replace(ev, log=LogFacts(n_ctx=4096, n_batch=512, verbose=True))
    assert effects.check("LLAMA_ARG_BATCH", "2048", ev).status == "not effective"


def test_switches_compare_as_llama_cpp_reads_them() -> None:
    ev = replace(BASE, settings={"LLAMA_ARG_ENDPOINT_METRICS": Observed("true", ARGV)},
                 metrics_enabled=True, props={})
    e = effects.check("LLAMA_ARG_ENDPOINT_METRICS", "1", ev)
    assert e.status == "effective" and "command line" in e.why


def test_without_a_process_the_endpoints_decide_or_it_is_unknown() -> None:
    props = {"total_slots": 4, "default_generation_settings": {"n_ctx": 4096}}
    ev = replace(BASE, settings=None, props=props)
    assert effects.check("LLAMA_ARG_N_PARALLEL", "4", ev).status == "effective"
    ctx = effects.check("LLAMA_ARG_CTX_SIZE", "8192", ev)
    assert (ctx.status, ctx.observed) == ("not effective", "16384")
    unknown = effects.check("LLAMA_ARG_CACHE_TYPE_K", "q8_0", ev)
    assert unknown.status == "unknown" and "--log FILE" in unknown.why


def test_advice_follows_how_the_server_is_run() -> None:
    ev = replace(BASE, managed_by="systemd", unit="llama-server.service")
    assert "systemd unit llama-server.service never reads" in \
        effects.check("LLAMA_ARG_THREADS", "4", ev).why
    ev = replace(BASE, restarted_since_apply=False, target_kind="systemd", managed_by="systemd",
                 unit="llama-server.service")
    assert "sudo systemctl restart llama-server.service" in \
        effects.check("LLAMA_ARG_THREADS", "4", ev).why


def test_auto_is_resolved_by_the_server_and_not_contradicted() -> None:
    ev = replace(BASE, settings={"LLAMA_ARG_N_PARALLEL": Observed("-1", ENV)},
                 props={"total_slots": 4})
    assert effects.check("LLAMA_ARG_N_PARALLEL", "-1", ev).status == "effective"


def test_retired_only_from_the_environment() -> None:
    settings = {"LLAMA_ARG_THREADS": Observed("4", ENV), "LLAMA_ARG_BATCH": Observed("8", ARGV)}
    out = effects.check_retired(settings, ["LLAMA_ARG_BATCH", "LLAMA_ARG_THREADS", "LLAMA_ARG_X"])
    assert [e.env for e in out] == ["LLAMA_ARG_THREADS"]
    assert effects.check_retired(None, ["LLAMA_ARG_THREADS"]) == []
