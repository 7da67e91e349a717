"""load_config / load_profile / resolve: precedence and hardware-matched overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hwvalues import gpu, machine
from velollm.config import compare, hardware_facts, load_config, load_profile, matches, resolve
from velollm.core.hardware import Hardware, Vendor
from velollm.errors import ConfigError, SchemaValidationError

GIB = 2**30
DATA = Path(__file__).resolve().parent.parent / "data"


def hw(*vram_gib: float | None, vendor: Vendor = "nvidia", ram_gib: int = 64,
       system: str = "linux", arch: str = "x86_64") -> Hardware:
    return machine(*(gpu(vendor, vram=None if v is None else int(v * GIB)) for v in vram_gib),
                   ram=ram_gib * GIB, system=system, arch=arch)


def test_issue_example_loads() -> None:
    config = load_config(DATA / "valid" / "issue_example.yaml")
    assert config.version == 1 and config.backend == "ollama" and config.profile == "balanced"
    assert config.server["num_parallel"] == "auto" and config.server["flash_attention"] is True
    assert config.models[0].name == "llama3.1:8b" and config.models[0].params == {"num_ctx": 16384}
    assert config.overrides[0].when == {"gpu_vendor": "nvidia", "vram_gb": ">=24"}
    assert config.verify.model == "llama3.2:1b" and config.target.kind == "auto"


@pytest.mark.parametrize(("hardware", "parallel", "matched"), [
    (hw(80), 4, [0]), (hw(24), 4, [0]), (hw(8), "auto", []), (hw(), "auto", []),
    (hw(24, vendor="amd"), "auto", []), (hw(None), "auto", [])])
def test_resolve_precedence_and_overrides(hardware: Hardware, parallel: object,
                                          matched: list[int]) -> None:
    state = resolve(load_config(DATA / "valid" / "issue_example.yaml"), hardware)
    assert state.server["num_parallel"] == parallel
    assert state.matched_overrides == matched
    assert state.server["keep_alive"] == "30m"          # config beats profile
    assert state.server["kv_cache_type"] == "q8_0"      # config beats profile's auto
    assert state.objective == "balanced"


def test_resolve_without_hardware_matches_no_override() -> None:
    """verify resolves velollm.yaml with no machine known: no override may match by accident."""
    state = resolve(load_config(DATA / "valid" / "issue_example.yaml"), None)
    assert state.matched_overrides == [] and state.facts == {}
    assert state.server["num_parallel"] == "auto" and state.verify.model == "llama3.2:1b"


def test_resolve_merges_models_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "velollm.yaml"
    path.write_text("version: 1\nprofile: latency\nobjective: throughput\n"
                    "models:\n  - {name: a, num_ctx: 8192, num_gpu: -1}\n"
                    "overrides:\n  - when: {cpu_only: true}\n"
                    "    models: [{name: a, num_ctx: 2048}, {name: b, num_thread: 4}]\n"
                    "verify: {model: a}\n", encoding="utf-8")
    state = resolve(load_config(path), hw())
    assert [(m.name, m.params) for m in state.models] == [
        ("a", {"num_ctx": 2048, "num_gpu": -1}), ("b", {"num_thread": 4})]
    assert state.server["keep_alive"] == -1             # from the latency profile
    assert state.objective == "throughput"              # the file beats the profile
    assert (state.verify.model, state.verify.iterations) == ("a", 7)


def test_profile_from_a_path(tmp_path: Path) -> None:
    (tmp_path / "team.yaml").write_text("description: ours\nobjective: latency\n"
                                        "server: {num_parallel: 3}\n", encoding="utf-8")
    (tmp_path / "velollm.yaml").write_text("version: 1\nprofile: ./team.yaml\n",
                                           encoding="utf-8")
    state = resolve(load_config(tmp_path / "velollm.yaml"), hw(16))
    assert state.server == {"num_parallel": 3} and state.objective == "latency"


def test_broken_profile_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "team.yaml").write_text("description: ours\nobjective: fastest\n",
                                        encoding="utf-8")
    with pytest.raises(SchemaValidationError) as info:
        load_profile("team.yaml", tmp_path)
    assert "team.yaml" in info.value.message
    assert info.value.problems[0]["path"] == "$.objective"
    assert info.value.problems[0]["line"] == 2


def test_unknown_builtin_profile() -> None:
    with pytest.raises(ConfigError, match="unknown profile 'fast'"):
        load_profile("fast", Path.cwd())


def test_hardware_facts() -> None:
    facts = hardware_facts(hw(24, 80, ram_gib=128, arch="aarch64"))
    assert facts["vram_gb"] == 80 and facts["vram_total_gb"] == 104
    assert facts["gpu_count"] == 2 and facts["arch"] == "arm64" and facts["ram_gb"] == 128
    assert hardware_facts(hw())["cpu_only"] is True and hardware_facts(hw())["vram_gb"] == 0
    assert hardware_facts(hw(24, None))["vram_gb"] is None  # unknown, not "24"


def test_vram_is_matched_in_whole_gib_as_cards_are_sold() -> None:
    """An RTX 4090 reports 24564 MiB (23.99 GiB); `vram_gb: ">=24"` must still match it."""
    facts = hardware_facts(hw(24564 / 1024, 81559 / 1024))  # RTX 4090, H100 80GB
    assert facts["vram_gb"] == 80 and facts["vram_total_gb"] == 104
    assert matches({"gpu_vendor": "nvidia", "vram_gb": ">=24"}, hardware_facts(hw(24564 / 1024)))
    assert not matches({"vram_gb": ">=24"}, hardware_facts(hw(16)))


@pytest.mark.parametrize(("actual", "spec", "expected"), [
    (24, ">=24", True), (23.9, ">=24", False), (8, "<16", True), (2, "==2", True),
    (2, "!=2", False), (48, 24, True), (None, ">=0", False), (5, "> 4.5", True)])
def test_compare(actual: float | None, spec: object, expected: bool) -> None:
    assert compare(actual, spec) is expected


def test_matches_all_facts() -> None:
    facts = hardware_facts(hw(24, system="darwin", arch="arm64", vendor="apple"))
    assert matches({"gpu_vendor": ["nvidia", "apple"], "os": "darwin", "arch": "aarch64"}, facts)
    assert not matches({"gpu_vendor": "apple", "ram_gb": ">=128"}, facts)
    assert matches({"cpu_only": False, "gpu_count": "==1"}, facts)


def test_profile_path_under_home(isolated_home: Path) -> None:
    (isolated_home / "mine.yaml").write_text("description: x\nobjective: low-memory\n",
                                             encoding="utf-8")
    (isolated_home / "proj").mkdir()
    (isolated_home / "proj" / "velollm.yaml").write_text("version: 1\nprofile: ~/mine.yaml\n",
                                                         encoding="utf-8")
    state = resolve(load_config(isolated_home / "proj" / "velollm.yaml"), hw())
    assert state.objective == "low-memory"
