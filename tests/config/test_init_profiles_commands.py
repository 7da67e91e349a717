"""`velollm init` then `velollm validate` on this machine, and `velollm profiles`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from velollm import main


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_then_validate(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["init"]) == 0  # real hardware detection of this machine
    written = workdir / "velollm.yaml"
    assert "wrote velollm.yaml" in capsys.readouterr().out
    text = written.read_text(encoding="utf-8")
    assert text.startswith("# velollm.yaml: ") and "version: 1" in text
    assert "Written by `velollm init` for:" in text
    assert main.main(["validate"]) == 0
    assert "velollm.yaml: valid" in capsys.readouterr().out
    assert sorted(p.name for p in workdir.iterdir()) == ["velollm.yaml"]  # no temp files left


def test_validate_summary_counts_llamacpp_models_as_models(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # llama.cpp lists its models under server.models: one model, not one more server setting
    (workdir / "velollm.yaml").write_text(
        "version: 1\nbackend: llamacpp\nserver:\n  parallel: 2\n"
        "  models:\n    - path: /models/a.gguf\n", encoding="utf-8")
    assert main.main(["validate"]) == 0
    assert capsys.readouterr().out == (
        "velollm.yaml: valid (profile balanced: 1 setting, 1 model, 0 overrides)\n")


def test_init_refuses_an_existing_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "velollm.yaml").write_text("mine\n", encoding="utf-8")
    assert main.main(["init"]) == 1
    err = capsys.readouterr().err
    assert err == ("error: velollm.yaml already exists; not overwriting it\n"
                   "hint: --force replaces it (keeps velollm.yaml.bak); "
                   "--file PATH writes elsewhere\n")
    assert max(len(line) for line in err.splitlines()) <= 80
    assert (workdir / "velollm.yaml").read_text(encoding="utf-8") == "mine\n"
    assert not (workdir / "velollm.yaml.bak").exists()


def test_init_force_keeps_a_backup(workdir: Path) -> None:
    (workdir / "velollm.yaml").write_text("mine\n", encoding="utf-8")
    assert main.main(["init", "--force", "--profile", "throughput"]) == 0
    assert (workdir / "velollm.yaml.bak").read_text(encoding="utf-8") == "mine\n"
    assert "profile: throughput" in (workdir / "velollm.yaml").read_text(encoding="utf-8")
    assert main.main(["validate", "velollm.yaml"]) == 0


def test_init_unknown_profile_writes_nothing(workdir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["init", "--profile", "fastest"]) == 1
    assert "unknown profile 'fastest'" in capsys.readouterr().err
    assert list(workdir.iterdir()) == []


def test_init_file_and_env(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["--json", "init", "--file", "sub/dir/v.yaml", "--profile",
                      "long-context"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["written"] == "sub/dir/v.yaml" and doc["profile"] == "long-context"
    monkeypatch.setenv("VELOLLM_CONFIG", str(workdir / "sub" / "dir" / "v.yaml"))
    assert main.main(["validate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True


def test_init_without_hardware_detection(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import velollm.io.hardware

    def broken(**_kw: object) -> None:
        raise RuntimeError("no probes here")

    monkeypatch.setattr(velollm.io.hardware, "detect", broken)
    assert main.main(["init"]) == 0
    assert "hardware detection failed" in capsys.readouterr().err
    text = (workdir / "velollm.yaml").read_text(encoding="utf-8")
    assert "hardware not detected" in text and "profile: balanced" in text
    assert main.main(["validate"]) == 0


def test_profiles_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["profiles"]) == 0
    out = capsys.readouterr().out
    for name in ("balanced", "throughput", "latency", "long-context", "low-memory", "cpu-only"):
        assert any(line.startswith(name) for line in out.splitlines())


def test_profiles_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["profiles", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_name = {p["name"]: p for p in doc["profiles"]}
    assert by_name["latency"]["objective"] == "latency"
    assert by_name["throughput"]["server"]["kv_cache_type"] == "q8_0"


def test_profiles_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["profiles", "show", "low-memory"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# low-memory:") and "objective: low-memory" in out


@pytest.mark.parametrize(("argv", "fragment"), [
    (["profiles", "show"], "needs a NAME"), (["profiles", "show", "turbo"], "unknown profile")])
def test_profiles_show_errors(argv: list[str], fragment: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(argv) == 1
    assert fragment in capsys.readouterr().err
