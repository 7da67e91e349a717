"""The seam, proven: a backend defined here, registered with one line in the table, runs through
validate, plan, apply and a second plan with no edit anywhere else in velollm."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli
from velollm import backends
from velollm.backends.base import ModelFacts, Observed, RenderedFile, Verification
from velollm.core.facts import Capabilities
from velollm.core.hardware import Hardware


class ToyBackend:
    """A server that reads TOY_PARALLEL and TOY_CONTEXT from an env file; nothing else."""

    name = "toy"
    title = "Toy"
    target_kinds = ("envfile",)
    names: ClassVar[dict[str, str]] = {"num_parallel": "TOY_PARALLEL",
                                       "context_length": "TOY_CONTEXT"}

    def server_keys(self) -> frozenset[str]:
        return frozenset(self.names)

    def model_keys(self) -> frozenset[str]:
        return frozenset()

    def value_problem(self, key: str, value: object) -> str | None:
        ok = value == "auto" or (isinstance(value, int) and value > 0)
        return None if ok else f"{value!r} is not a whole number > 0"

    def unknown_server_key(self, key: str) -> str | None:
        return "write num_parallel, not TOY_PARALLEL" if key == "TOY_PARALLEL" else None

    def config_schema(self, shipped: Mapping[str, Any]) -> dict[str, Any]:
        knob = {"anyOf": [{"const": "auto"}, {"type": "integer", "minimum": 1}]}
        server = {"type": "object", "additionalProperties": False,
                  "properties": {key: knob for key in self.names}}
        return {**shipped, "$defs": {**shipped["$defs"], "server": server}}

    def setting_name(self, key: str) -> str:
        return self.names[key]

    def setting_value(self, key: str, value: object) -> str:
        return str(value)

    def param_value(self, key: str, value: object) -> str | tuple[str, ...]:
        return str(value)

    def capabilities(self, version: str | None) -> Capabilities:
        return Capabilities(backend="toy", title="Toy", version=version,
                            known=frozenset(self.names))

    def trap_warnings(self, server: Mapping[str, object], version: str | None) -> list[str]:
        return []

    def security_warnings(self, settings: Mapping[str, str]) -> list[str]:
        return []

    def base_url(self, host: str | None) -> str:
        return host or "http://127.0.0.1:9"

    def installed_version(self, hardware: Hardware) -> str | None:
        return "1.0"

    def managed_by(self, hardware: Hardware) -> str:
        return "none"

    def model_facts(self, names: Iterable[str], base_url: str | None) -> ModelFacts:
        return ModelFacts(notes=tuple(f"{n}: not sized" for n in names))

    def settings_now(self, base_url: str) -> dict[str, Observed]:
        return {}

    def auto_target(self, hardware: Hardware | None) -> str:
        return "envfile"

    def render(self, kind: str, settings: Mapping[str, str], *, path: Path | None,
               models: Mapping[str, Mapping[str, str]],
               unset: Collection[str] = ()) -> list[RenderedFile]:
        assert path is not None
        text = "".join(f"{k}={v}\n" for k, v in sorted(settings.items()))
        return [RenderedFile(path=path, content=text, kind=kind,
                             pickup="restart the toy server")]

    def read_back(self, kind: str, text: str
                  ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
        return {k: v for k, v in pairs}, {}

    def reach_warnings(self, kind: str, hardware: Hardware, settings: Mapping[str, str],
                       observed: Sequence[Mapping[str, str]]) -> list[str]:
        return []

    def for_config(self, server: Mapping[str, object]) -> ToyBackend:
        return self

    def recommend(self, hardware: Hardware, desired: Any, infos: Any, caps: Capabilities) -> Any:
        from velollm.core.optimizer import recommend

        return recommend(hardware, desired, infos, caps)

    def client(self, base_url: str) -> Any:
        raise NotImplementedError("the toy has no server")

    def verify(self, *args: Any, **kwargs: Any) -> Verification:
        raise NotImplementedError("the toy has no server")


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setitem(backends.BACKENDS, "toy", ToyBackend())  # type: ignore[index]
    monkeypatch.chdir(tmp_path)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    (tmp_path / "toy-profile.yaml").write_text(
        "description: toy\nobjective: balanced\nserver: {num_parallel: auto}\n")
    return tmp_path


def test_a_backend_is_one_folder_and_one_line(toy: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (toy / "velollm.yaml").write_text(
        "version: 1\nbackend: toy\nprofile: ./toy-profile.yaml\n"
        "target: {kind: auto, path: toy.env}\nserver: {context_length: 8192}\n")
    code, out, err = cli(capsys, "validate")
    assert code == 0, err
    code, out, err = cli(capsys, "plan", "--hardware", "hw.json", "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["backend"] == "toy" and plan["target_kind"] == "envfile"
    assert plan["env"]["TOY_CONTEXT"] == "8192" and "TOY_PARALLEL" in plan["env"]
    code, out, err = cli(capsys, "apply", "--hardware", "hw.json", "--auto-approve")
    assert code == 0, err
    assert (toy / "toy.env").read_text().startswith("TOY_CONTEXT=8192\nTOY_PARALLEL=")
    code, out, err = cli(capsys, "plan", "--hardware", "hw.json", "--detailed-exitcode")
    assert code == 0, out + err  # read back through the backend: no changes


def test_the_backend_s_own_schema_and_advice_check_its_file(
        toy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (toy / "velollm.yaml").write_text(
        "version: 1\nbackend: toy\nprofile: ./toy-profile.yaml\n"
        "server:\n  TOY_PARALLEL: 2\n  keep_alive: 5m\n  context_length: -1\n")
    code, out, err = cli(capsys, "validate")
    assert code == 1
    err += out
    assert "velollm.yaml:5: $.server.TOY_PARALLEL: write num_parallel, not TOY_PARALLEL" in err
    assert "$.server.keep_alive: unknown key 'keep_alive'" in err  # an Ollama knob, not a toy's
    assert "$.server.context_length: -1 is not a whole number > 0" in err


def test_an_unknown_backend_names_the_known_ones(toy: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (toy / "velollm.yaml").write_text("version: 1\nbackend: sglang\n")
    code, out, err = cli(capsys, "validate")
    assert code == 1
    err += out
    assert "$.backend: unknown backend 'sglang': velollm supports llamacpp, ollama, toy, vllm" in err
