"""The knob catalogue checked against the real `llama-server --help` of build 11669 (saved from
Debian sid's package, data/llama-server-b11669-help.txt): every flag spelling and LLAMA_ARG_*
name velollm writes or reads is the one that build prints, with the default it prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from velollm.backends.llamacpp import knobs
from velollm.backends.llamacpp.knobdata import KNOBS, TESTED

DATA = Path(__file__).parent / "data"


def help_entries() -> list[tuple[tuple[str, ...], str | None, str]]:
    """(spellings, env, text) per option of the --help output (arg.cpp's to_string layout)."""
    entries: list[tuple[tuple[str, ...], str | None, str]] = []
    for block in re.split(r"\n(?=-)", (DATA / "llama-server-b11669-help.txt").read_text()):
        if not block.startswith("-") or block.startswith("-----"):
            continue
        head = re.split(r"\s{2,}", re.sub(r",\s+", ", ", block.splitlines()[0]), maxsplit=1)[0]
        spellings = tuple(w.rstrip(",") for w in head.split() if w.startswith("-"))
        env = re.search(r"\(env: (\w+)\)", block)
        entries.append((spellings, env.group(1) if env else None, " ".join(block.split())))
    return entries


ENTRIES = help_entries()
BY_FLAG = {f: (env, text) for spellings, env, text in ENTRIES for f in spellings}


def test_help_fixture_is_the_tested_build() -> None:
    version = (DATA / "llama-server-b11669-version.txt").read_text()
    assert knobs.parse_build(version) == int(TESTED)
    assert len(ENTRIES) > 200 and "--ctx-size" in BY_FLAG


@pytest.mark.parametrize("key", sorted(KNOBS))
def test_every_spelling_and_variable_is_the_builds_own(key: str) -> None:
    knob = KNOBS[key]
    for flag in (*knob.flags, *knob.negative):
        assert flag in BY_FLAG, f"{flag} is not an option of build {TESTED}"
        env, _ = BY_FLAG[flag]
        assert env == knob.env, f"{flag}: help says {env}, catalogue {knob.env}"


@pytest.mark.parametrize("key", sorted(k for k, v in KNOBS.items()
                                       if v.default and v.default[0].isdigit()))
def test_numeric_defaults_are_the_ones_the_build_prints(key: str) -> None:
    _, text = BY_FLAG[KNOBS[key].flags[-1]]
    if key == "port":  # Debian's build prints 9931; upstream's default is 8080 (common.h)
        assert "(default: 9931)" in text
        return
    assert re.search(rf"default:? '?{re.escape(KNOBS[key].default or '')}\b", text), text


def test_flag_env_covers_every_spelling_for_the_argv_reader() -> None:
    assert knobs.FLAG_ENV["-c"] == knobs.FLAG_ENV["--ctx-size"] == "LLAMA_ARG_CTX_SIZE"
    assert knobs.FLAG_ENV["--no-cont-batching"] == "LLAMA_ARG_CONT_BATCHING"
    assert "--no-cont-batching" in knobs.NEGATIVE_FLAGS and "-cb" not in knobs.NEGATIVE_FLAGS
    assert knobs.FLAG_ENV["-ngl"] == knobs.FLAG_ENV["--n-gpu-layers"] == "LLAMA_ARG_N_GPU_LAYERS"


def test_traps_the_build_shows() -> None:
    # --threads-batch has no variable: only the command line or an INI can set it
    assert BY_FLAG["--threads-batch"][0] is None and KNOBS["threads_batch"].env is None
    assert "threads_batch" not in knobs.USER_KEYS
    # --draft-max is removed but its variable is still parsed, which stops the start
    env, text = BY_FLAG["--draft-max"]
    assert env in knobs.REMOVED_ENV and "has been removed" in text
    # there is no --mmap/--mlock any more: --load-mode
    assert "--mlock" not in BY_FLAG and "--load-mode" in BY_FLAG
    assert "load_mode" in (knobs.value_problem("mmap", True) or "")
    # a quantized V cache needs flash attention
    warn = knobs.trap_warnings({"kv_cache_type": "q8_0", "flash_attention": "off"}, "b11669")
    assert any("needs flash attention" in w for w in warn)


@pytest.mark.parametrize(("text", "build"), [
    ("version: 0.7.0 (build 11669, commit Debian)", 11669), ("version: 11669 (abc1234)", 11669),
    ("b11434", 11434), ("11434", 11434)])
def test_build_numbers(text: str, build: int) -> None:
    assert knobs.parse_build(text) == build


def test_capabilities_say_which_build_a_key_needs() -> None:
    assert knobs.capabilities("b11669").reads("context_length")
    assert knobs.capabilities("b11669").reads("kv_cache_type")
    old = knobs.capabilities("b11000")
    assert not old.reads("flash_attention")
    assert "needs build 11434" in old.why_not_read("flash_attention")
    assert knobs.capabilities(None).reads("metrics")


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("parallel", 0, "0 slots"), ("parallel", -1, "per slot"), ("parallel", "8k", "whole number"), ("batch_size", -1, "minimum"),
    ("continuous_batching", "yes", "boolean"), ("flash_attention", "maybe", "one of"),
    ("kv_cache_type", "q3", "one of"), ("gpu_layers", "some", "whole number"),
    ("tensor_split", "3;1", "numbers"), ("metrics", "auto", "cannot be auto")])
def test_value_problems_use_llama_cpps_parsing(key: str, value: object, problem: str) -> None:
    found = knobs.value_problem(key, value)
    assert found is not None and problem in found


@pytest.mark.parametrize(("key", "value"), [
    ("parallel", 4), ("context_length", "auto"), ("flash_attention", True),
    ("flash_attention", "auto"), ("kv_cache_type", "q4_0"), ("gpu_layers", "all"),
    ("gpu_layers", 20), ("tensor_split", [3, 1]), ("continuous_batching", False),
    ("fit", "off")])
def test_values_llama_cpp_reads(key: str, value: object) -> None:
    assert knobs.value_problem(key, value) is None


def test_env_values_are_the_strings_llama_cpp_parses() -> None:
    assert knobs.env_value("flash_attention", True) == "on"
    assert knobs.env_value("continuous_batching", False) == "0"
    assert knobs.env_value("tensor_split", [3, 1]) == "3,1"
    assert knobs.env_value("kv_cache_type_k", "Q8_0") == "q8_0"
