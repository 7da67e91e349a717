"""The knob catalogue against the facts in shared/ollama-facts.md (§1, §2)."""

from __future__ import annotations

import pytest

from velollm.backends.ollama.knobs import (
    MODEL_KNOBS,
    NOT_KNOBS,
    SERVER_KNOBS,
    capabilities,
    default_at,
    duration_seconds,
    env_value,
    model_default_at,
    parse_version,
    reads,
    trap_warnings,
    value_problem,
    why_not_read,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800.0), ("30m0s", 1800.0), ("1h30m", 5400.0), ("3600", 3600.0), ("-1", -1.0),
    ("1.5s", 1.5), ("2562047h47m16.854775807s", 9223372036.854775807), ("soon", None),
    ("30x", None), ("", None)])
def test_duration_seconds(text: str, seconds: float | None) -> None:
    got = duration_seconds(text)
    assert got == pytest.approx(seconds) if seconds is not None else got is None


@pytest.mark.parametrize(("text", "expected"), [
    ("0.5.4-ipexllm-20250407", (0, 5, 4)), ("v0.33.0-rc2", (0, 33, 0)), ("0.10.0", (0, 10, 0)),
    ("0.6", (0, 6, 0)), (" 0.1.39 ", (0, 1, 39))])
def test_parse_version(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_version(text) == expected


def test_parse_version_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not an Ollama version"):
        parse_version("latest")


def test_every_server_knob_is_well_formed() -> None:
    for key, knob in SERVER_KNOBS.items():
        assert key == knob.key == key.lower() and not key.startswith("ollama_")
        assert knob.env.upper() == knob.env
        assert knob.env == f"OLLAMA_{key.upper()}" or not knob.env.startswith("OLLAMA_")
        assert knob.meaning and "\n" not in knob.meaning
        if knob.type == "enum":
            assert knob.choices
        for version in (knob.introduced, knob.removed):
            if version:
                parse_version(version)


def test_not_knobs_are_never_server_knobs() -> None:
    for name in ("OLLAMA_NUM_GPU", "OLLAMA_NUM_BATCH", "OLLAMA_NUM_CTX", "OLLAMA_NUM_THREAD",
                 "num_gpu", "num_batch", "num_ctx", "num_thread"):
        assert name in NOT_KNOBS and name.lower().removeprefix("ollama_") not in SERVER_KNOBS
        assert name.lower().removeprefix("ollama_") in MODEL_KNOBS
        assert "models[]" in NOT_KNOBS[name]
    assert "context_length" in NOT_KNOBS["OLLAMA_NUM_CTX"]


@pytest.mark.parametrize(("key", "version", "expected"), [
    ("context_length", "0.5.4-ipexllm-20250407", False), ("context_length", "0.5.13", True),
    ("context_length", None, True), ("num_parallel", "0.1.32", False),
    ("new_engine", "0.24.0", True), ("new_engine", "0.30.0", False), ("new_engine", None, False),
    ("kv_cache_type", "0.4.9", False), ("kv_cache_type", "v0.5.0", True),
    ("host", "0.1.0", True), ("num_gpu", None, False), ("nonsense", None, False)])
def test_reads(key: str, version: str | None, expected: bool) -> None:
    assert reads(key, version) is expected
    assert (why_not_read(key, version) == "") is expected


def test_why_not_read_sentences() -> None:
    assert why_not_read("context_length", "0.5.4-ipexllm-20250407") == (
        "OLLAMA_CONTEXT_LENGTH is read from Ollama 0.5.13 on; this is 0.5.4-ipexllm-20250407")
    assert why_not_read("multiuser_cache", "0.33.0") == (
        "OLLAMA_MULTIUSER_CACHE was removed in Ollama 0.30.0; this is 0.33.0")
    assert why_not_read("num_thread", "0.33.0") == NOT_KNOBS["num_thread"]


def test_default_history() -> None:
    # §1.3 and §1.4: the defaults changed several times.
    assert default_at("num_parallel", "0.1.33") == "1"
    assert "4" in str(default_at("num_parallel", "0.5.4"))
    assert "2" in str(default_at("num_parallel", "0.9.6"))
    assert default_at("num_parallel", "0.10.0") == "1"
    assert default_at("context_length", "0.6.0") == "2048"
    assert default_at("context_length", "0.12.0") == "4096"
    assert "262144" in str(default_at("context_length", None))
    assert default_at("max_queue", None) == "512"


@pytest.mark.parametrize(("key", "value"), [
    ("flash_attention", True), ("flash_attention", "0"), ("flash_attention", "TRUE"),
    ("num_parallel", 4), ("num_parallel", "8"), ("num_parallel", "auto"),
    ("keep_alive", "1h30m"), ("keep_alive", -1), ("keep_alive", "3600"), ("keep_alive", "0"),
    ("keep_alive", ".5h"), ("gpu_overhead", "512MiB"), ("gpu_overhead", 0),
    ("kv_cache_type", "Q8_0"), ("host", "0.0.0.0"), ("host", "http://[::1]:8080/x"),
    ("origins", ["a", "b"]), ("debug", 2), ("debug", True), ("models", "/a b/$(c)`d`'e'")])
def test_value_accepted(key: str, value: object) -> None:
    assert value_problem(key, value) is None


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("flash_attention", "yes", "silently read it as TRUE"),
    ("flash_attention", "on", "silently read it as TRUE"),
    ("num_parallel", -1, "silently use the default, 1"),
    ("num_parallel", "four", "silently use the default"),
    ("num_parallel", True, "whole number"), ("num_parallel", 2**40, "maximum"),
    ("keep_alive", "forever", "not a duration"), ("keep_alive", "5 m", "not a duration"),
    ("kv_cache_type", "q5_0", "not one of"), ("host", "a b", "not a host"),
    ("host", "127.0.0.1:99999", "not a port"), ("host", "auto", "cannot be auto"),
    ("models", "/a\nb", "line break"), ("models", "a\x00b", "control character"),
    ("origins", ["ok", "bad\r"], "line break"), ("gpu_overhead", "lots", "not a size"),
    ("debug", "verbose", "log level"), ("keep_alive", None, "value is needed"),
    ("num_gpu", 1, "per-model parameter"), ("nonsense", 1, "not an Ollama server variable")])
def test_value_refused(key: str, value: object, fragment: str) -> None:
    problem = value_problem(key, value)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize(("key", "value", "env"), [
    ("flash_attention", True, "1"), ("flash_attention", False, "0"),
    ("context_length", 8192, "8192"), ("keep_alive", "30m", "30m"), ("keep_alive", -1, "-1"),
    ("origins", ["a", "b"], "a,b"), ("gpu_overhead", "512MiB", str(512 * 2**20)),
    ("gpu_overhead", "1GB", "1000000000"), ("kv_cache_type", "Q8_0", "q8_0"),
    ("debug", 2, "2"), ("models", "/srv/$HOME's", "/srv/$HOME's")])
def test_env_value(key: str, value: object, env: str) -> None:
    assert env_value(key, value) == env
    assert value_problem(key, env) is None  # what we write, Ollama reads back as meant


@pytest.mark.parametrize(("key", "value"), [("flash_attention", "yes"),
                                            ("num_parallel", "auto")])
def test_env_value_refuses(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        env_value(key, value)


def test_kv_cache_trap() -> None:
    quantized = {"kv_cache_type": "q8_0", "context_length": 8192}
    # §1.5: before 0.30 an unset FA means the quantized cache is silently ignored.
    assert any("needs flash_attention" in w for w in trap_warnings(quantized, "0.13.5"))
    assert not any("needs flash_attention" in w for w in trap_warnings(quantized, "0.33.0"))
    off = {**quantized, "flash_attention": False}
    assert any("flash attention is off" in w for w in trap_warnings(off, None))
    on = {**quantized, "flash_attention": True}
    assert trap_warnings(on, "0.13.5") == []


def test_traps_for_unread_and_unset() -> None:
    warnings = trap_warnings({"multiuser_cache": True, "http_proxy": "http://p"}, "0.33.0")
    assert any("removed in Ollama 0.30.0" in w for w in warnings)
    assert any("ollama#14073" in w for w in warnings)
    assert any("HTTP_PROXY" in w for w in warnings)
    assert not any("14073" in w for w in trap_warnings({}, "0.9.6"))


# Issue 12: each boundary checked against ollama/ollama (`git log -S`, first release tag holding
# the commit): (knob, last version that does not read it, first version that does).
@pytest.mark.parametrize(("key", "before", "since"), [
    ("vulkan", "0.12.10", "0.12.11"), ("auth", "0.7.1", "0.8.0"), ("remotes", "0.11.11", "0.12.0"),
    ("editor", "0.15.6", "0.16.0"), ("debug_log_requests", "0.18.2", "0.18.3"),
    ("max_transfer_streams", "0.23.2", "0.23.3"), ("multiuser_cache", "0.3.12", "0.3.13"),
    ("cloud_base_url", "0.17.7", "0.18.0"), ("gpu_overhead", "0.3.9", "0.3.10"),
    ("load_timeout", "0.3.9", "0.3.10"), ("llama_arg_n_cpu_moe", "0.24.0", "0.30.0")])
def test_introduced_where_the_source_says(key: str, before: str, since: str) -> None:
    assert not reads(key, before) and reads(key, since)
    assert f"read from Ollama {since} on" in why_not_read(key, before)


@pytest.mark.parametrize(("key", "last", "gone"), [
    ("tmpdir", "0.5.1", "0.5.2"), ("max_vram", "0.1.44", "0.1.45"),
    ("runners_dir", "0.3.10", "0.3.11"), ("multiuser_cache", "0.24.0", "0.30.0")])
def test_removed_where_the_source_says(key: str, last: str, gone: str) -> None:
    assert reads(key, last) and not reads(key, gone)


def test_max_vram_says_it_is_parsed_but_unused() -> None:
    # envconfig of 0.3.2-0.6.8 still parses OLLAMA_MAX_VRAM, yet nothing uses it since 0.1.45
    why = why_not_read("max_vram", "0.5.4-ipexllm-20250407")
    assert "removed in Ollama 0.1.45" in why and "nothing uses the value" in why


def test_llama_arg_twins_ollama_overrides_are_no_knobs() -> None:
    for env in ("LLAMA_ARG_CTX_SIZE", "LLAMA_ARG_N_PARALLEL", "LLAMA_ARG_FLASH_ATTN",
                "LLAMA_ARG_BATCH", "LLAMA_ARG_UBATCH"):
        assert env.lower() not in SERVER_KNOBS
        assert env in NOT_KNOBS[env] and "always passes" in NOT_KNOBS[env]
        assert value_problem(env.lower(), 1) == NOT_KNOBS[env.lower()]
    assert "server.context_length" in NOT_KNOBS["LLAMA_ARG_CTX_SIZE"]
    assert SERVER_KNOBS["llama_arg_fit_target"].default == "1024"


def test_version_aware_defaults() -> None:
    assert default_at("vulkan", "0.12.11") == "false" and default_at("vulkan", "0.30.0") == "true"
    assert "CPU included" in str(default_at("flash_attention", "0.30.0"))
    assert "per model" in str(default_at("flash_attention", "0.24.0"))
    assert model_default_at("repeat_penalty", "0.32.9") == "1.1"
    assert model_default_at("repeat_penalty", "0.32.10") == "1.0"
    assert model_default_at("num_batch", "0.24.0") == "512"
    assert "2048" in str(model_default_at("num_batch", "0.30.0"))
    assert model_default_at("main_gpu", "0.24.0") == "0"
    assert model_default_at("main_gpu", None) == "unset"
    assert model_default_at("draft_num_predict", "0.24.0") is None
    assert model_default_at("draft_num_predict", "0.30.0") == "4"


def test_capabilities_from_0_30_run_flash_attention_on_the_cpu() -> None:
    old, new = capabilities("0.24.0"), capabilities("0.30.0")
    assert not old.flash_attention_on_cpu and not old.picks_batch_size
    assert new.flash_attention_on_cpu and new.picks_batch_size
    assert "gemma2" in old.flash_attention_dropped and not new.flash_attention_dropped


def test_cloud_base_url_must_be_loopback() -> None:
    far = trap_warnings({"cloud_base_url": "https://proxy.example.com"}, None)
    assert any("loopback" in w for w in far)
    near = trap_warnings({"cloud_base_url": "http://127.0.0.1:8080"}, None)
    assert not any("loopback" in w for w in near)
    assert any("read from Ollama 0.18.0" in w
               for w in trap_warnings({"cloud_base_url": "http://127.0.0.1:1"}, "0.17.7"))
