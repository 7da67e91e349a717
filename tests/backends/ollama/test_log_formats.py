"""verify reads every Ollama log format from 0.5.4 to 0.33 (issue 12).

Each file in logs/ is one format: real captures of the test runtimes (0.5.4, 0.9.3) and logs written
from the format strings in Ollama's source at that version (cited in the file's `# source:` line).
Its `# expect:` line says what the parsers must find and what verify must conclude from the log
alone (no server process): a new format is a new file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from velollm.backends.ollama import evidence
from velollm.backends.ollama.logs import (
    go_level_name,
    ignored_by_log,
    normalize_log,
    parse_server_config,
)
from velollm.backends.ollama.runnerlog import last_load
from velollm.core import effect

LOGS = Path(__file__).parent / "logs"
FIXTURES = sorted(LOGS.glob("*.log"))
# A variable name followed by a colon inside a value: a key the parser let its neighbour swallow.
SWALLOWED = re.compile(r"(?:^|\s)[A-Z][A-Z0-9]*_[A-Z0-9_]+:")


def _expect(path: Path) -> dict[str, Any]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect: "):
            doc: dict[str, Any] = json.loads(line.removeprefix("# expect: "))
            return doc
    raise AssertionError(f"{path.name} has no `# expect:` line")


def test_every_era_has_a_fixture() -> None:
    names = {p.name for p in FIXTURES}
    for version in ("v0.5.4", "v0.9.3", "v0.11.5", "v0.13.5", "v0.30.0", "v0.33.0"):
        assert any(n.startswith(version) for n in names), version
    for path in FIXTURES:
        head = path.read_text(encoding="utf-8").splitlines()[:3]
        assert head[0].startswith("# format: ") and head[1].startswith("# source: "), path.name


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_server_config_line(path: Path) -> None:
    text, expect = path.read_text(encoding="utf-8"), _expect(path)
    config = parse_server_config(text)
    assert config is not None
    for key, value in expect["config"].items():
        assert config[key] == value, key
    assert not {k: v for k, v in config.items() if SWALLOWED.search(v)}
    assert "OLLAMA_HOST" in config and "OLLAMA_NUM_PARALLEL" in config


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_last_model_load(path: Path) -> None:
    text, expect = path.read_text(encoding="utf-8"), _expect(path)
    load = last_load(text)
    assert load is not None
    got = load.as_dict()
    assert {k: got[k] for k in expect["runner"]} == expect["runner"]
    buffers = {f"{b.component} {b.device} {b.kind}": b.mib for b in load.buffers}
    assert {k: buffers.get(k) for k in expect["buffers_mib"]} == expect["buffers_mib"]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_verify_concludes_from_the_log_alone(path: Path) -> None:
    text, expect = path.read_text(encoding="utf-8"), _expect(path)
    assert set(ignored_by_log(text)) == set(expect.get("ignored", []))
    wanted: dict[str, str] = expect["wanted"]
    parsed = parse_server_config(text)
    assert parsed is not None
    gathered = evidence.Gathered(
        effect.Evidence(process_env=None, log_config=normalize_log(parsed, wanted),
                        server_managed_by="none", target_kind="shell",
                        restarted_since_apply=True, ignored=ignored_by_log(text)),
        process=None, log_path=path, runner=last_load(text), loaded=(), notes=())
    effects = {e.env: e for e in evidence.check(wanted, gathered, expect["version"])}
    assert {env: e.status for env, e in effects.items()} == expect["effects"], \
        {env: e.why for env, e in effects.items()}


def test_debug_level_forms() -> None:
    # envconfig.LogLevel (v0.7.0 on): 1/true = DEBUG, n = slog.Level(-4n), as Go prints a Level
    assert [go_level_name(n) for n in (-4, -8, -12, 0, 2, 4, 8, 9)] == [
        "DEBUG", "DEBUG-4", "DEBUG-8", "INFO", "INFO+2", "WARN", "ERROR", "ERROR+1"]
    logged = {"OLLAMA_DEBUG": "DEBUG-4"}
    assert normalize_log(logged, {"OLLAMA_DEBUG": "2"}) == {"OLLAMA_DEBUG": "2"}
    assert normalize_log(logged, {"OLLAMA_DEBUG": "1"}) == logged  # DEBUG-4 is not DEBUG
    assert normalize_log({"OLLAMA_DEBUG": "true"}, {"OLLAMA_DEBUG": "yes"}) == \
        {"OLLAMA_DEBUG": "yes"}  # up to 0.6 an unparsable value is true


def test_unknown_keys_never_swallow_their_neighbours() -> None:
    line = ('msg="server config" env="map[CUDA_VISIBLE_DEVICES:0 GGML_VK_VISIBLE_DEVICES: '
            'OLLAMA_FUTURE_KNOB:on OLLAMA_MODELS:/srv/my models OLLAMA_ORIGINS:[http://a '
            'ZZZ_NOT_A_KEY:x https://b] OLLAMA_SCHED_SPREAD:false http_proxy: no_proxy:]"')
    assert parse_server_config(line) == {
        "CUDA_VISIBLE_DEVICES": "0", "GGML_VK_VISIBLE_DEVICES": "",
        "OLLAMA_FUTURE_KNOB": "on", "OLLAMA_MODELS": "/srv/my models",
        "OLLAMA_ORIGINS": "[http://a ZZZ_NOT_A_KEY:x https://b]",
        "OLLAMA_SCHED_SPREAD": "false", "http_proxy": "", "no_proxy": ""}


def test_list_and_host_values_compare_as_ollama_reads_them() -> None:
    logged = {"OLLAMA_ORIGINS": "[http://app.local http://localhost https://localhost]",
              "OLLAMA_HOST": "http://0.0.0.0:11434"}
    wanted = {"OLLAMA_ORIGINS": "http://app.local", "OLLAMA_HOST": "0.0.0.0"}
    assert normalize_log(logged, wanted) == wanted
    assert normalize_log(logged, {"OLLAMA_HOST": "0.0.0.0:8080"})["OLLAMA_HOST"] == \
        "http://0.0.0.0:11434"


def test_flash_attention_turned_off_by_llama_cpp_is_not_effective() -> None:
    log = ('msg="server config" env="map[OLLAMA_FLASH_ATTENTION:true OLLAMA_HOST:x]"\n'
           'msg="starting llama-server" cmd="llama-server -c 4096 -np 1 --flash-attn on"\n'
           "sched_reserve: layer 3 is assigned to device CUDA0 but the Flash Attention tensor "
           "is assigned to device CPU (usually due to missing support)\n"
           "sched_reserve: Flash Attention was auto, set to disabled\n")
    gathered = evidence.Gathered(
        effect.Evidence(process_env={"OLLAMA_FLASH_ATTENTION": "1"}, log_config=None,
                        server_managed_by="none", target_kind="shell",
                        restarted_since_apply=True),
        process=None, log_path=None, runner=last_load(log), loaded=(), notes=())
    (fa,) = evidence.check({"OLLAMA_FLASH_ATTENTION": "1"}, gathered, "0.33.0")
    assert (fa.status, fa.observed) == ("not effective", "off")
    assert "flash attention off" in fa.why


def test_a_pinned_model_context_is_no_contradiction() -> None:
    log = ('msg="server config" env="map[OLLAMA_CONTEXT_LENGTH:8192]"\n'
           'msg="starting llama-server" cmd="llama-server -c 4096 -np 2 --flash-attn auto"\n')
    ev = effect.Evidence(process_env={"OLLAMA_CONTEXT_LENGTH": "8192"}, log_config=None,
                         server_managed_by="none", target_kind="shell",
                         restarted_since_apply=True)
    for pinned, status in ((False, "not effective"), (True, "effective")):
        gathered = evidence.Gathered(ev, None, None, last_load(log), (), (),
                                     context_pinned=pinned)
        (ctx,) = evidence.check({"OLLAMA_CONTEXT_LENGTH": "8192"}, gathered, "0.33.0")
        assert ctx.status == status, ctx


def test_a_context_cut_to_the_models_training_is_no_contradiction() -> None:
    log = ('msg="server config" env="map[OLLAMA_CONTEXT_LENGTH:8192 OLLAMA_NUM_PARALLEL:1]"\n'
           'level=WARN source=server.go:161 msg="requested context size too large for model" '
           "num_ctx=8192 n_ctx_train=2048\n"
           'msg="starting llama server" cmd="runner --ctx-size 2048 --parallel 1 --port 1"\n')
    load = last_load(log)
    assert load is not None and load.context_capped and load.context_per_slot == 2048
    ev = effect.Evidence(process_env={"OLLAMA_CONTEXT_LENGTH": "8192"}, log_config=None,
                         server_managed_by="none", target_kind="shell",
                         restarted_since_apply=True)
    gathered = evidence.Gathered(ev, None, None, load, (), ())
    (ctx,) = evidence.check({"OLLAMA_CONTEXT_LENGTH": "8192"}, gathered, "0.9.6")
    assert ctx.status == "effective"


def test_a_model_that_runs_one_slot_is_no_contradiction() -> None:
    # server/sched.go: mllama, qwen3vl, bert... run one slot whatever OLLAMA_NUM_PARALLEL says
    log = ('msg="server config" env="map[OLLAMA_NUM_PARALLEL:4]"\n'
           'msg="starting llama server" cmd="runner --ctx-size 2048 --parallel 1 --port 1"\n'
           "llama_model_loader: - kv   0:                       general.architecture str"
           "              = {arch}\n")
    ev = effect.Evidence(process_env={"OLLAMA_NUM_PARALLEL": "4"}, log_config=None,
                         server_managed_by="none", target_kind="shell",
                         restarted_since_apply=True)
    for arch, status in (("mllama", "effective"), ("llama", "not effective")):
        gathered = evidence.Gathered(ev, None, None, last_load(log.format(arch=arch)), (), ())
        (par,) = evidence.check({"OLLAMA_NUM_PARALLEL": "4"}, gathered, "0.9.6")
        assert par.status == status, par


def test_no_model_load_since_the_last_start() -> None:
    log = ('msg="server config" env="map[OLLAMA_NUM_PARALLEL:4]"\n'
           'msg="starting llama-server" cmd="llama-server -c 8192 -np 4"\n'
           'msg="server config" env="map[OLLAMA_NUM_PARALLEL:1]"\n')
    assert last_load(log) is None


def test_durations_as_ollama_logs_them() -> None:
    forever = "2562047h47m16.854775807s"  # time.Duration(math.MaxInt64)
    logged = {"OLLAMA_KEEP_ALIVE": forever, "OLLAMA_LOAD_TIMEOUT": forever}
    assert normalize_log(logged, {"OLLAMA_KEEP_ALIVE": "-1", "OLLAMA_LOAD_TIMEOUT": "0"}) == {
        "OLLAMA_KEEP_ALIVE": "-1", "OLLAMA_LOAD_TIMEOUT": "0"}  # envconfig: <0 / <=0 = forever
    assert normalize_log({"OLLAMA_KEEP_ALIVE": "0s"}, {"OLLAMA_KEEP_ALIVE": "0"}) == \
        {"OLLAMA_KEEP_ALIVE": "0"}  # a keep-alive of 0 unloads at once, it is no "forever"
    assert normalize_log({"OLLAMA_KEEP_ALIVE": "1h0m0s"}, {"OLLAMA_KEEP_ALIVE": "3600"}) == \
        {"OLLAMA_KEEP_ALIVE": "3600"}
