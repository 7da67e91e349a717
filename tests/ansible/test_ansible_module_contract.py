"""The velollm.ollama modules and role under real ansible-playbook, against velollm's JSON contract.

velollm itself is replaced here by tests/ansible/data/fake_velollm.py (the CLI boundary only), so
these run before and independently of `velollm apply`; test_ansible_fleet.py runs the same
playbook against the real CLI. The facts test runs the real `velollm detect`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ansible import playbook_harness as h

pytestmark = pytest.mark.skipif(shutil.which("ansible-playbook") is None,
                                reason="ansible-core is not installed (pip install -e '.[test]')")


@dataclass(frozen=True)
class ContractRuns:
    hosts: dict[str, h.SimHost]
    check: h.PlaybookRun
    files_after_check: list[Path]
    first: h.PlaybookRun
    second: h.PlaybookRun


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractRuns]:
    tmp = tmp_path_factory.mktemp("ansible-contract")
    bad = tmp / "bad-velollm.yaml"
    bad.write_text("version: 1\nbroken: true\n", encoding="utf-8")
    hosts = {host.name: host for host in (
        h.make_host(tmp, "ws-rtx4090-24g", "ws-rtx4090-24g"),
        h.make_host(tmp, "mbp-m2-16g", "mbp-m2-16g"),
        h.make_host(tmp, "bad-config", "laptop-cpu-8g", velollm_config_src=str(bad)),
        h.make_host(tmp, "no-velollm", "laptop-cpu-8g",
                    velollm_executable=str(tmp / "missing" / "velollm")),
    )}
    inventory = h.write_inventory(tmp, list(hosts.values()), h.fake_executable(tmp))
    check = h.run_playbook(tmp, inventory, "--check", "--diff")
    files_after_check = h.files_under(tmp / "hosts")
    first = h.run_playbook(tmp, inventory)
    second = h.run_playbook(tmp, inventory)
    yield ContractRuns(hosts, check, files_after_check, first, second)


GOOD = ("ws-rtx4090-24g", "mbp-m2-16g")


def test_check_mode_reports_changed_and_writes_nothing(runs: ContractRuns) -> None:
    assert runs.check.changed_hosts() == set(GOOD), runs.check.output
    assert runs.files_after_check == []


def test_diff_mode_shows_the_file_change(runs: ContractRuns) -> None:
    shell_file = runs.hosts["ws-rtx4090-24g"].shell_file
    assert f"+++ after: {shell_file} (after)" in runs.check.output
    assert "+export VELOLLM_FAKE_KEEP_ALIVE=30m" in runs.check.output


def test_real_run_changes_then_second_run_changes_nothing(runs: ContractRuns) -> None:
    assert runs.first.changed_hosts() == set(GOOD), runs.first.output
    for name in GOOD:
        assert runs.hosts[name].shell_file.read_text(encoding="utf-8") == \
            "export VELOLLM_FAKE_KEEP_ALIVE=30m\n"
        assert runs.second.recap[name]["changed"] == 0
        assert runs.second.recap[name]["failed"] == 0
    assert runs.second.changed_hosts() == set(), runs.second.output


def test_handler_runs_only_when_something_changed(runs: ContractRuns) -> None:
    mac_handler = "Tell the user to restart the Ollama app (macOS)"
    shell_handler = "Tell the user how the new shell settings take effect"
    assert mac_handler in runs.first.output and shell_handler in runs.first.output
    assert "quit and reopen the Ollama app" in runs.first.output
    assert "RUNNING HANDLER" not in runs.second.output


def test_bad_config_fails_that_host_with_velollms_message(runs: ContractRuns) -> None:
    for run in (runs.check, runs.first, runs.second):
        assert run.rc != 0
        assert run.failed_hosts() == {"bad-config", "no-velollm"}
        fatal = "\n".join(run.host_lines("bad-config"))
        assert "velollm apply failed: $.broken: unknown key 'broken' in bad-velollm.yaml" \
            in fatal
        assert "(hint: remove it)" in fatal
        for name in GOOD:
            assert run.recap[name]["failed"] == 0


def test_missing_velollm_fails_that_host_and_says_how_to_install(runs: ContractRuns) -> None:
    fatal = "\n".join(runs.first.host_lines("no-velollm"))
    assert "was not found on this host: install velollm there" in fatal


def _facts_playbook(tmp: Path) -> Path:
    playbook = tmp / "facts.yml"
    playbook.write_text(
        "- name: Facts\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Read hardware\n      velollm.ollama.velollm_facts:\n"
        "        executable: '{{ velollm_executable }}'\n"
        "        hardware_file: '{{ velollm_hardware_file | default(omit, true) }}'\n"
        "    - name: Show it\n      ansible.builtin.debug:\n"
        "        msg: \"host={{ inventory_hostname }} "
        "kind={{ ansible_facts['velollm_hardware']['kind'] }} "
        "gpus={{ ansible_facts['velollm_hardware']['gpus'] | map(attribute='name') "
        "| join('+') }}\"\n", encoding="utf-8")
    return playbook


def test_facts_module_reads_a_hardware_file_and_runs_real_detect(tmp_path: Path) -> None:
    hosts = [h.make_host(tmp_path, "node-a100x2-80g", "node-a100x2-80g"),
             h.make_host(tmp_path, "this-machine", "laptop-cpu-8g", velollm_hardware_file="")]
    inventory = h.write_inventory(tmp_path, hosts, h.velollm_executable(tmp_path))
    run = h.run_playbook(tmp_path, inventory, playbook=_facts_playbook(tmp_path))
    assert run.rc == 0, run.output
    assert ("host=node-a100x2-80g kind=velollm.hardware "
            "gpus=NVIDIA A100-SXM4-80GB+NVIDIA A100-SXM4-80GB") in run.output
    # The local machine, detected for real by `velollm detect --json`.
    assert "host=this-machine kind=velollm.hardware gpus=" in run.output


def test_old_velollm_without_the_command_is_reported_as_such(tmp_path: Path) -> None:
    # The fake knows only `apply`: `detect` is refused by argparse (exit 2), like an old velollm.
    host = h.make_host(tmp_path, "old", "laptop-cpu-8g", velollm_hardware_file="")
    inventory = h.write_inventory(tmp_path, [host], h.fake_executable(tmp_path))
    run = h.run_playbook(tmp_path, inventory, playbook=_facts_playbook(tmp_path))
    assert run.failed_hosts() == {"old"}
    assert "velollm detect was refused on this host" in run.output
    assert "upgrade velollm on the host" in run.output
