"""The example playbook rolls ansible/examples/velollm.yaml out to a simulated heterogeneous fleet.

Real ansible-playbook, real velollm CLI. 13 local hosts, each with its own HOME/XDG state and its
own hardware document (tests/ansible/data/hardware/), plus one host with an invalid velollm.yaml
and one without velollm. Sequence: --check --diff, a real run, a second run.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ansible import playbook_harness as h

pytestmark = pytest.mark.skipif(shutil.which("ansible-playbook") is None,
                                reason="ansible-core is not installed (pip install -e '.[test]')")

FLEET = sorted(p.stem for p in h.HARDWARE.glob("*.json"))
BROKEN = ("bad-config", "no-velollm")
TRUE = "true"

# What ansible/examples/velollm.yaml pins for each class of machine (its `overrides:`).
CPU_ONLY = {"OLLAMA_NUM_PARALLEL": "1", "OLLAMA_KEEP_ALIVE": "10m"}
APPLE = {"OLLAMA_KEEP_ALIVE": "1h"}
BIG_NVIDIA = {"OLLAMA_NUM_PARALLEL": "4", "OLLAMA_FLASH_ATTENTION": TRUE,
              "OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_KEEP_ALIVE": "30m"}
DATACENTRE = {**BIG_NVIDIA, "OLLAMA_CONTEXT_LENGTH": "32768"}
OTHER = {"OLLAMA_KEEP_ALIVE": "30m"}
EXPECTED = {
    "laptop-cpu-8g": CPU_ONLY,
    "cpu-server-256g": CPU_ONLY,
    "mbp-m1-8g": APPLE,
    "mbp-m2-16g": APPLE,
    "studio-m2ultra-192g": APPLE,
    "ws-rtx4090-24g": BIG_NVIDIA,          # 23.99 GiB: matches vram_gb >= 20
    "node-l40s-48g": BIG_NVIDIA,
    "node-h100-80g": DATACENTRE,
    "node-a100x2-80g": {**DATACENTRE, "OLLAMA_SCHED_SPREAD": TRUE},  # gpu_count >= 2
    "ws-rtx3060-12g": OTHER,               # NVIDIA, but under 20 GiB
    "laptop-rtx4060-8g": OTHER,
    "ws-rx7900xtx-24g": OTHER,             # 24 GiB, but AMD
    "nuc-iris-16g": OTHER,                 # VRAM unknown (lspci)
}
# Ollama's own defaults (ollama-facts.md §1.3): a pin equal to one may be left unwritten.
OLLAMA_DEFAULTS = {"OLLAMA_NUM_PARALLEL": "1"}


@dataclass(frozen=True)
class FleetRuns:
    tmp: Path
    executable: str
    hosts: dict[str, h.SimHost]
    check: h.PlaybookRun
    files_after_check: list[Path]
    first: h.PlaybookRun
    second: h.PlaybookRun


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetRuns]:
    tmp = tmp_path_factory.mktemp("ansible-fleet")
    bad = tmp / "velollm.yaml"
    bad.write_text("version: 1\nserver:\n  num_gpu: 99\n", encoding="utf-8")
    hosts = [h.make_host(tmp, name, name) for name in FLEET]
    hosts.append(h.make_host(tmp, "bad-config", "ws-rtx4090-24g", velollm_config_src=str(bad)))
    hosts.append(h.make_host(tmp, "no-velollm", "laptop-cpu-8g",
                             velollm_executable=str(tmp / "missing" / "velollm")))
    executable = h.velollm_executable(tmp)
    inventory = h.write_inventory(tmp, hosts, executable)
    check = h.run_playbook(tmp, inventory, "--check", "--diff")
    files_after_check = h.files_under(tmp / "hosts")
    first = h.run_playbook(tmp, inventory)
    second = h.run_playbook(tmp, inventory)
    yield FleetRuns(tmp, executable, {host.name: host for host in hosts}, check,
                    files_after_check, first, second)


def _normalise(value: str, expected: str) -> str:
    """Ollama reads a bool with strconv.ParseBool: "1" and "true" are the same setting."""
    return TRUE if expected == TRUE and value.lower() in ("1", "true") else value


def test_fleet_has_at_least_twelve_hosts(fleet: FleetRuns) -> None:
    assert len(FLEET) >= 12
    assert set(fleet.first.recap) == set(FLEET) | set(BROKEN)


def test_check_mode_reports_changed_everywhere_and_writes_nothing(fleet: FleetRuns) -> None:
    assert fleet.check.changed_hosts() == set(FLEET), fleet.check.output
    assert fleet.files_after_check == []


def test_diff_mode_shows_the_variables_that_change(fleet: FleetRuns) -> None:
    host = fleet.hosts["ws-rtx4090-24g"]
    block = fleet.check.output.split(f"+++ after: {host.shell_file} (after)", 1)[1]
    block = block.split("changed: [", 1)[0]
    added = [line for line in block.splitlines() if line.startswith("+")]
    for name, value in BIG_NVIDIA.items():
        assert any(name in line and (value in line or value == TRUE) for line in added), block


def test_real_run_changes_every_host(fleet: FleetRuns) -> None:
    assert fleet.first.changed_hosts() == set(FLEET), fleet.first.output
    for name in FLEET:
        assert fleet.hosts[name].shell_file.is_file()
        state = fleet.hosts[name].home / ".local" / "state" / "velollm"
        assert h.files_under(state), f"{name}: no state in its own XDG_STATE_HOME"


def test_each_host_gets_the_settings_for_its_hardware(fleet: FleetRuns) -> None:
    for name in FLEET:
        env = h.source_shell_file(fleet.hosts[name].shell_file)
        for key, expected in EXPECTED[name].items():
            actual = env.get(key, OLLAMA_DEFAULTS.get(key))
            assert actual is not None and _normalise(actual, expected) == expected, (name, key, env)


def test_ansible_writes_what_the_cli_writes_for_the_same_hardware(fleet: FleetRuns) -> None:
    procs = {}
    for name in FLEET:
        alone = h.make_host(fleet.tmp / "cli", name, name)
        procs[name] = (alone, subprocess.Popen(
            [fleet.executable, "apply", "-f", str(h.EXAMPLES / "velollm.yaml"), "--target",
             "shell", "--path", str(alone.shell_file), "--hardware", str(alone.hardware_file),
             "--auto-approve", "--json"],
            env={**h.ansible_env(fleet.tmp), **alone.env()},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for name, (alone, proc) in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (name, err)
        assert h.source_shell_file(alone.shell_file) == \
            h.source_shell_file(fleet.hosts[name].shell_file), name


def test_second_run_is_all_ok_none_changed(fleet: FleetRuns) -> None:
    for name in FLEET:
        counts = fleet.second.recap[name]
        assert counts["changed"] == 0 and counts["failed"] == 0 and counts["ok"] > 0, \
            (name, fleet.second.output)
    assert "RUNNING HANDLER" not in fleet.second.output
    assert "RUNNING HANDLER" in fleet.first.output


def test_invalid_config_fails_that_host_with_velollms_message(fleet: FleetRuns) -> None:
    for run in (fleet.check, fleet.first, fleet.second):
        assert run.rc != 0
        assert run.failed_hosts() == set(BROKEN), run.output
        fatal = "\n".join(run.host_lines("bad-config"))
        assert "velollm apply failed:" in fatal
        assert "num_gpu" in fatal and "models[]" in fatal, fatal
        assert "velollm.yaml" in fatal
        assert "ansible-tmp" not in fatal.split('"msg": ', 1)[1], "temp path leaked"


def test_missing_velollm_fails_only_that_host(fleet: FleetRuns) -> None:
    fatal = "\n".join(fleet.first.host_lines("no-velollm"))
    assert "was not found on this host: install velollm there" in fatal
    assert all(fleet.first.recap[name]["failed"] == 0 for name in FLEET)


def test_check_diff_after_a_config_change_shows_before_and_after(fleet: FleetRuns,
                                                                 tmp_path: Path) -> None:
    edited = tmp_path / "velollm.yaml"
    text = (h.EXAMPLES / "velollm.yaml").read_text(encoding="utf-8")
    edited.write_text(text.replace("keep_alive: 30m", "keep_alive: 45m"), encoding="utf-8")
    host = fleet.hosts["ws-rtx4090-24g"]
    before = host.shell_file.read_text(encoding="utf-8")
    run = h.run_playbook(fleet.tmp, fleet.tmp / "inventory.yml", "--check", "--diff",
                         "--limit", host.name, "-e", f"velollm_config_src={edited}")
    assert run.rc == 0 and run.changed_hosts() == {host.name}, run.output
    lines = run.output.splitlines()
    assert any(x.startswith("-") and "OLLAMA_KEEP_ALIVE" in x and "30m" in x for x in lines)
    assert any(x.startswith("+") and "OLLAMA_KEEP_ALIVE" in x and "45m" in x for x in lines)
    assert not any(x.startswith(("-", "+")) and "OLLAMA_NUM_PARALLEL" in x for x in lines)
    assert host.shell_file.read_text(encoding="utf-8") == before
