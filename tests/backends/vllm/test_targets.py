"""vLLM's targets read back by real parsers: systemd-analyze parses the user unit and the
drop-in (its dump of the parsed ExecStart gives back every argv word), the compose file is YAML
(velollm's loader) and, where the compose-spec schema is in the test cache, valid against it;
the env file is KEY=VALUE that systemd's EnvironmentFile reads. Every value round-trips through
read_back, which is what drift and the second plan see."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.realserver import DEFAULT_CACHE
from velollm.backends.vllm import BACKEND
from velollm.backends.vllm.knobs import settings_argv
from velollm.backends.vllm.targets import default_path, render_target
from velollm.config.yamlload import load_text
from velollm.errors import ConfigError

SETTINGS = {"--max-model-len": "4096", "--gpu-memory-utilization": "0.85",
            "--enforce-eager": "true", "--enable-prefix-caching": "false",
            "--served-model-name": "smol smol-2", "--port": "18123",
            "--speculative-config": '{"method":"ngram","num_speculative_tokens":4}',
            "--quantization": "a%b$c\\d\"e'f",  # every character a unit file treats specially
            "VLLM_CPU_KVCACHE_SPACE": "4", "VLLM_CPU_OMP_THREADS_BIND": "0-3|4-7"}
MODEL = "/srv/models/smol lm2"
START = ("/bin/echo", "serve")


def _render(kind: str, tmp_path: Path, settings: dict[str, str] = SETTINGS) -> Path:
    [f] = render_target(kind, settings, path=tmp_path / f"out.{kind}", home=tmp_path,
                        start=START, model=MODEL)
    f.path.write_text(f.content, encoding="utf-8")
    assert BACKEND.read_back(kind, f.content)[0] == \
        {k: v for k, v in settings.items() if kind != "env" or not k.startswith("--")}
    return f.path


def _analyze(unit: Path) -> str:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed")
    env = {**os.environ, "SYSTEMD_LOG_LEVEL": "debug", "SYSTEMD_LOG_COLOR": "0"}
    proc = subprocess.run([exe, "verify", "--man=no", str(unit)], capture_output=True, env=env,
                          timeout=60, check=False)
    text = (proc.stdout + proc.stderr).decode("utf-8")
    assert proc.returncode == 0, text
    if "Command Line:" not in text:
        pytest.skip("this systemd-analyze does not dump the parsed unit at debug level")
    return text


def _exec_argv(dump: str) -> list[str]:
    """The dumped command line: words, double-quoted where needed, every character after a
    backslash taken as itself (systemd escapes backslashes, quotes and dollars there)."""
    [line] = re.findall(r"^\s*Command Line: (.*)$", dump, re.MULTILINE)
    words = [m.group(1) if m.group(1) is not None else m.group(2)
             for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', line)]
    unescaped = [re.sub(r"\\(.)", r"\1", w) for w in words]
    return [w.replace("$$", "$") for w in unescaped]  # $$ becomes $ at exec time


def _environment(dump: str) -> dict[str, str]:
    return dict(m.split("=", 1) for m in re.findall(r"^\s*Environment: (.*)$", dump,
                                                      re.MULTILINE))


def test_user_unit_runs_vllm_with_every_argument(tmp_path: Path) -> None:
    unit = _render("systemd-unit", tmp_path).rename(tmp_path / "vllm.service")
    dump = _analyze(unit)
    assert _exec_argv(dump) == [*START, MODEL, *settings_argv(SETTINGS)]
    assert _environment(dump) == {"VLLM_CPU_KVCACHE_SPACE": "4",
                                  "VLLM_CPU_OMP_THREADS_BIND": "0-3|4-7"}


def test_dropin_replaces_the_units_command(tmp_path: Path) -> None:
    units = tmp_path / "units"
    (units / "vllm.service.d").mkdir(parents=True)
    (units / "vllm.service").write_text("[Service]\nExecStart=/bin/false old\n")
    [f] = render_target("systemd", SETTINGS, path=units / "vllm.service.d" / "velollm.conf",
                        home=tmp_path, start=START, model=MODEL)
    f.path.write_text(f.content, encoding="utf-8")
    assert f.follow_up == ("systemctl daemon-reload", "systemctl restart vllm.service")
    dump = _analyze(units / "vllm.service")
    assert _exec_argv(dump) == [*START, MODEL, *settings_argv(SETTINGS)]  # one command, ours
    assert BACKEND.read_back("systemd", f.content)[0] == SETTINGS


def test_api_server_module_form_takes_the_model_as_an_option(tmp_path: Path) -> None:
    [f] = render_target("systemd-unit", {"--port": "8001"}, path=None, home=tmp_path,
                        start=("/venv/bin/python", "-m", "vllm.entrypoints.openai.api_server"),
                        model="/m")
    assert f.path == default_path("systemd-unit", tmp_path)
    assert ("ExecStart=/venv/bin/python -m vllm.entrypoints.openai.api_server --model /m "
            "--port 8001") in f.content


def test_env_file_holds_the_variables_only(tmp_path: Path) -> None:
    path = _render("env", tmp_path)
    text = path.read_text()
    assert "--" not in text.replace("# Managed", "")
    unit = tmp_path / "reader.service"
    unit.write_text(f"[Service]\nEnvironmentFile={path}\nExecStart=/bin/true\n")
    with pytest.raises(ConfigError, match="cannot be written to an env file"):
        render_target("env", {"VLLM_X": "a b"}, path=None, home=tmp_path, start=START,
                      model=None)


def test_compose_service_is_yaml_with_the_whole_command(tmp_path: Path) -> None:
    path = _render("compose", tmp_path)
    data = load_text(path.read_text(), "compose").data
    service = data["services"]["vllm"]
    assert service["command"] == ["--model", "/models/smol lm2", *settings_argv(SETTINGS)]
    assert service["volumes"] == [f"{MODEL}:/models/smol lm2:ro"]
    assert service["ports"] == ["127.0.0.1:18123:18123"]
    assert service["environment"] == {"VLLM_CPU_KVCACHE_SPACE": "4",
                                      "VLLM_CPU_OMP_THREADS_BIND": "0-3|4-7"}
    assert service["image"] == "vllm/vllm-openai:v0.32.0"


def test_compose_file_is_valid_against_the_compose_spec(tmp_path: Path) -> None:
    """With the compose-spec schema (compose-spec/compose-spec, schema/compose-spec.json) put in
    the test cache by hand; `docker compose config` is not on the CI machines."""
    schema_path = DEFAULT_CACHE.parent / "compose-spec.json"  # the real user cache
    if "VELOLLM_COMPOSE_SCHEMA" in os.environ:
        schema_path = Path(os.environ["VELOLLM_COMPOSE_SCHEMA"])
    if not schema_path.is_file():
        pytest.skip(f"no compose-spec schema at {schema_path}")
    import jsonschema

    data = load_text(_render("compose", tmp_path).read_text(), "compose").data
    jsonschema.Draft7Validator(json.loads(schema_path.read_text())).validate(data)


def test_a_target_without_a_model_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.model is not set"):
        render_target("systemd-unit", {}, path=None, home=tmp_path, start=START, model=None)


def test_hand_edited_unit_reads_back_what_it_runs(tmp_path: Path) -> None:
    text = ("[Service]\nExecStart=vllm serve /m --max-model-len 2048 -tp 2 --no-enforce-eager\n"
            'Environment="VLLM_CPU_KVCACHE_SPACE=8" OTHER=1\n')
    assert BACKEND.read_back("systemd-unit", text)[0] == {
        "--max-model-len": "2048", "--tensor-parallel-size": "2", "--enforce-eager": "false",
        "VLLM_CPU_KVCACHE_SPACE": "8"}


def test_an_api_key_is_written_for_its_owner_only(tmp_path: Path) -> None:
    for kind in ("systemd-unit", "env", "compose"):
        [f] = render_target(kind, {"VLLM_API_KEY": "s3cret"}, path=None, home=tmp_path,
                            start=START, model=MODEL)
        assert f.mode == 0o600 and "s3cret" in f.content and "--api-key" not in f.content
    [plain] = render_target("env", {"VLLM_CPU_KVCACHE_SPACE": "1"}, path=None, home=tmp_path,
                            start=START, model=MODEL)
    assert plain.mode == 0o644
