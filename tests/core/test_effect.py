from __future__ import annotations

from velollm.backends.ollama import logs as ollama_logs
from velollm.core import effect

LOG = (
    'time=2026-11-24T10:00:00 level=INFO source=routes.go:1259 msg="server config" '
    'env="map[CUDA_VISIBLE_DEVICES: HTTPS_PROXY: OLLAMA_DEBUG:false OLLAMA_FLASH_ATTENTION:true '
    "OLLAMA_HOST:http://127.0.0.1:40001 OLLAMA_KEEP_ALIVE:30m0s OLLAMA_KV_CACHE_TYPE:q8_0 "
    'OLLAMA_NUM_PARALLEL:4 OLLAMA_ORIGINS:[http://localhost https://localhost] OLLAMA_SCHED_SPREAD:false]"\n'
    "time=... msg=\"flash attention enabled but not supported by gpu\"\n"
    "time=... msg=\"quantized kv cache requested but flash attention disabled\"\n"
)


def _reads_all(_env: str) -> str | None:
    return None


def test_parse_server_config_line() -> None:
    cfg = ollama_logs.parse_server_config(LOG)
    assert cfg is not None
    assert cfg["OLLAMA_NUM_PARALLEL"] == "4"
    assert cfg["OLLAMA_KEEP_ALIVE"] == "30m0s"
    assert cfg["OLLAMA_ORIGINS"] == "[http://localhost https://localhost]"
    assert cfg["CUDA_VISIBLE_DEVICES"] == ""
    assert ollama_logs.parse_server_config("no such line") is None


def test_last_server_config_line_wins() -> None:
    two = LOG + 'msg="server config" env="map[OLLAMA_NUM_PARALLEL:1]"\n'
    assert ollama_logs.parse_server_config(two) == {"OLLAMA_NUM_PARALLEL": "1"}
    # the ignore warnings belong to the previous start, not this one
    assert ollama_logs.ignored_by_log(two) == {}


def test_effective_not_read_and_ignored() -> None:
    ev = effect.Evidence(
        process_env={"OLLAMA_NUM_PARALLEL": "4", "OLLAMA_CONTEXT_LENGTH": "8192",
                     "OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_FLASH_ATTENTION": "1"},
        log_config=ollama_logs.parse_server_config(LOG), server_managed_by="none",
        target_kind="shell", restarted_since_apply=True, ignored=ollama_logs.ignored_by_log(LOG))

    def reads(env: str) -> str | None:
        return "read from Ollama 0.5.13 on; this is 0.5.4" if env == "OLLAMA_CONTEXT_LENGTH" \
            else None

    results = {e.env: e for e in effect.check_effects(
        {"OLLAMA_NUM_PARALLEL": "4", "OLLAMA_CONTEXT_LENGTH": "8192",
         "OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_FLASH_ATTENTION": "1"}, ev,
        version_reads=reads)}
    assert results["OLLAMA_NUM_PARALLEL"].status == "effective"
    assert results["OLLAMA_CONTEXT_LENGTH"].status == "not effective"
    assert "0.5.13" in results["OLLAMA_CONTEXT_LENGTH"].why
    assert results["OLLAMA_KV_CACHE_TYPE"].status == "not effective"
    assert "flash attention disabled" in results["OLLAMA_KV_CACHE_TYPE"].why
    assert results["OLLAMA_FLASH_ATTENTION"].status == "not effective"


def test_shell_file_never_read_by_systemd_service() -> None:
    ev = effect.Evidence(process_env={}, log_config=None, server_managed_by="systemd",
                         target_kind="shell", restarted_since_apply=None)
    (res,) = effect.check_effects({"OLLAMA_NUM_PARALLEL": "4"}, ev, version_reads=_reads_all)
    assert res.status == "not effective"
    assert "systemd service never reads" in res.why


def test_not_restarted() -> None:
    ev = effect.Evidence(process_env={"OLLAMA_NUM_PARALLEL": "1"}, log_config=None,
                         server_managed_by="systemd", target_kind="systemd",
                         restarted_since_apply=False)
    (res,) = effect.check_effects({"OLLAMA_NUM_PARALLEL": "4"}, ev, version_reads=_reads_all)
    assert (res.status, res.observed) == ("not effective", "1")
    assert "systemctl restart ollama" in res.why


def test_log_only_evidence_and_bool_equivalence() -> None:
    ev = effect.Evidence(process_env=None, log_config={"OLLAMA_SCHED_SPREAD": "true"},
                         server_managed_by="systemd", target_kind="systemd",
                         restarted_since_apply=None)
    (res,) = effect.check_effects({"OLLAMA_SCHED_SPREAD": "1"}, ev, version_reads=_reads_all)
    assert res.status == "effective"


def test_no_evidence_is_unknown() -> None:
    ev = effect.Evidence(process_env=None, log_config=None, server_managed_by="none",
                         target_kind="shell", restarted_since_apply=None)
    (res,) = effect.check_effects({"OLLAMA_NUM_PARALLEL": "4"}, ev, version_reads=_reads_all)
    assert res.status == "unknown"


def test_a_removed_setting_still_in_force_is_not_effective() -> None:
    """velollm.yaml dropped OLLAMA_MAX_QUEUE; a server that still has it (inherited from the shell
    that started it) does not run with what velollm.yaml says."""
    ev = effect.Evidence(process_env={"OLLAMA_MAX_QUEUE": "64"}, log_config=None,
                         server_managed_by="none", target_kind="shell", restarted_since_apply=True)
    (res,) = effect.check_removed(["OLLAMA_MAX_QUEUE", "OLLAMA_GONE_AND_ABSENT"], ev)
    assert (res.env, res.wanted, res.observed, res.status) == (
        "OLLAMA_MAX_QUEUE", None, "64", "not effective")
    assert "no longer sets" in res.why and "sources the file" in res.why
    stale = effect.Evidence(process_env={"OLLAMA_MAX_QUEUE": "64"}, log_config=None,
                            server_managed_by="systemd", target_kind="systemd",
                            restarted_since_apply=False)
    (res,) = effect.check_removed(["OLLAMA_MAX_QUEUE"], stale)
    assert "started before velollm removed it" in res.why and "systemctl restart" in res.why


def test_a_removed_setting_is_not_judged_without_the_server_s_environment() -> None:
    # its log lists every variable with its default: unset and "set to the default" look alike
    ev = effect.Evidence(process_env=None, log_config={"OLLAMA_MAX_QUEUE": "512"},
                         server_managed_by="none", target_kind="shell", restarted_since_apply=None)
    assert effect.check_removed(["OLLAMA_MAX_QUEUE"], ev) == []
