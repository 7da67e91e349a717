"""The targets table: golden renders of every template, default paths, auto selection, Modelfiles."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.backends.ollama.nasty import NASTY
from velollm.backends.ollama.targets import (
    KINDS,
    PlatformFacts,
    auto_target,
    default_path,
    modelfile_stem,
    render_target,
)
from velollm.errors import ConfigError
from velollm.resources import data_dir

GOLDEN = Path(__file__).parent / "golden"
SAMPLE_ENV = {"OLLAMA_HOST": "0.0.0.0:11434", "OLLAMA_KEEP_ALIVE": "30m",
              "OLLAMA_MODELS": "/srv/models dir/it's", "OLLAMA_ORIGINS": 'app://*,"x"%h'}
SAMPLE_MODELS = {"llama3.2:3b": {"num_ctx": "8192", "num_gpu": "99", "stop": "<|eot id|>"},
                 "library/qwen2.5:7b": {"temperature": "0.2"}}
HEADER = "Managed by velollm (golden test header)."
GOLDEN_NAMES = {"shell": ["shell.sh"], "fish": ["fish.fish"], "systemd": ["systemd.conf"],
                "systemd-user": ["ollama.service"],
                "launchd": ["launchd.plist"],
                "modelfile": ["library_qwen2.5_7b.Modelfile", "llama3.2_3b.Modelfile"]}


@pytest.mark.parametrize("kind", KINDS)
def test_every_target_matches_its_golden_file(kind: str) -> None:
    rendered = render_target(kind, SAMPLE_ENV, models=SAMPLE_MODELS, header=HEADER,
                             home=Path("/home/user"))
    assert len(rendered) == len(GOLDEN_NAMES[kind])
    for golden, f in zip(GOLDEN_NAMES[kind], rendered, strict=True):
        assert f.content == (GOLDEN / golden).read_text(encoding="utf-8"), golden
        assert f.kind == kind and f.mode == 0o644 and f.pickup


def test_every_shipped_template_is_covered_by_a_golden_test() -> None:
    shipped = {p.name for p in data_dir("templates").glob("*.j2")}
    # llamacpp-*: tests/backends/llamacpp/test_targets_golden.py
    assert shipped == {"shell.sh.j2", "fish.fish.j2", "systemd.conf.j2", "systemd-user.service.j2",
                       "modelfile.j2", "llamacpp-shell.sh.j2", "llamacpp-fish.fish.j2",
                       "llamacpp-server.service.j2", "llamacpp-preset.ini.j2"}


def test_rendering_is_deterministic_whatever_the_input_order() -> None:
    one = render_target("shell", dict(SAMPLE_ENV))
    two = render_target("shell", dict(reversed(SAMPLE_ENV.items())))
    assert one == two


@pytest.mark.parametrize(("facts", "expected"), [
    (PlatformFacts("linux", ollama_unit_exists=True), "systemd"),
    (PlatformFacts("linux", ollama_unit_exists=False), "shell"),
    (PlatformFacts("darwin", ollama_unit_exists=False), "launchd"),
    (PlatformFacts("darwin", ollama_unit_exists=True), "systemd"),
    (PlatformFacts("freebsd14", ollama_unit_exists=False), "shell"),
])
def test_auto_picks_systemd_then_launchd_then_shell(facts: PlatformFacts, expected: str) -> None:
    assert auto_target(facts) == expected


def test_default_paths_and_overrides(tmp_path: Path) -> None:
    home = Path("/home/u")
    assert default_path("shell", home) == home / ".config/velollm/ollama.env.sh"
    assert default_path("fish", home) == home / ".config/velollm/ollama.env.fish"
    assert default_path("systemd-user", home) == home / ".config/systemd/user/ollama.service"
    assert default_path("launchd", home) == home / "Library/LaunchAgents/com.velollm.ollama-env.plist"
    assert default_path("modelfile", home) == home / ".config/velollm/modelfiles"
    [shell] = render_target("shell", {}, path=tmp_path / "mine.sh")
    assert shell.path == tmp_path / "mine.sh"
    files = render_target("modelfile", {}, models=SAMPLE_MODELS, path=tmp_path / "mf")
    assert [f.path for f in files] == [tmp_path / "mf/library_qwen2.5_7b.Modelfile",
                                       tmp_path / "mf/llama3.2_3b.Modelfile"]


def test_modelfile_create_command_is_one_quoted_argv(tmp_path: Path) -> None:
    where = tmp_path / "dir with space"
    [f] = render_target("modelfile", {}, models={"llama3.2:3b": {"num_ctx": "4096"}}, path=where)
    [command] = f.follow_up
    assert shlex.split(command) == ["ollama", "create", "llama3.2:3b", "-f",
                                    str(where / "llama3.2_3b.Modelfile")]
    assert modelfile_stem("hf.co/org/m:Q4_K_M") == "hf.co_org_m_Q4_K_M"


@pytest.mark.parametrize(("models", "message"), [
    ({"llama3": {"stop": "nb\u00a0space"}}, "parser drops"),
    ({"llama3": {"stop": "a\nb"}}, "control character"),
    ({"llama3": {"Bad-Name": "1"}}, "parameter name"),
    ({"bad model": {"num_ctx": "1"}}, "model name"),
])
def test_modelfile_rejects_what_it_cannot_express(models: dict[str, dict[str, str]],
                                                  message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        render_target("modelfile", {}, models=models)


def test_unknown_target_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown target 'docker'") as info:
        render_target("docker", {})
    assert "shell" in (info.value.hint or "")


def _ollama_parameter_value(line: str) -> str:
    """Port of ollama parser/parser.go (ParseFile, stateValue + unquote) for one PARAMETER line."""
    rest = line.split(" ", 2)[2]
    buf = "".join(r for r in rest if r.isprintable()).strip()
    if buf.startswith('"""'):
        assert len(buf) >= 6 and buf.endswith('"""'), line
        return buf[3:-3]
    if buf.startswith('"'):
        assert len(buf) >= 2 and buf.endswith('"'), line
        return buf[1:-1]
    return buf


def test_modelfile_values_read_back_exactly_by_ollamas_parser_rules() -> None:
    values = [v for v in NASTY.values()] + ['"', '""', '"q', 'q"', '""x""', '"""', ' " ', "#x"]
    params = {f"p{i}": v for i, v in enumerate(values)}
    [f] = render_target("modelfile", {}, models={"m:1": params})
    lines = [ln for ln in f.content.splitlines() if ln.startswith("PARAMETER ")]
    got = {ln.split(" ", 2)[1]: _ollama_parameter_value(ln) for ln in lines}
    assert got == params
