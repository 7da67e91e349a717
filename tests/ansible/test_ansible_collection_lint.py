"""What we ship under ansible/ passes ansible-lint, builds as a collection, and maps errors well."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.ansible import playbook_harness as h

COLLECTION = h.ANSIBLE_DIR / "ansible_collections" / "velollm" / "ollama"


def _env(tmp: Path) -> dict[str, str]:
    env = h.ansible_env(tmp)
    (tmp / "controller-home").mkdir(exist_ok=True)
    return env


@pytest.mark.skipif(shutil.which("ansible-lint") is None,
                    reason="ansible-lint is not installed (pip install -e '.[test]')")
def test_ansible_lint_passes_on_the_collection_and_examples(tmp_path: Path) -> None:
    # .ansible-lint (profile: production, offline) and ansible.cfg live in ansible/.
    proc = subprocess.run(["ansible-lint", "--nocolor"], cwd=h.ANSIBLE_DIR, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("ansible-galaxy") is None, reason="ansible-core is not installed")
def test_collection_builds_with_its_modules_role_and_playbook(tmp_path: Path) -> None:
    proc = subprocess.run(["ansible-galaxy", "collection", "build", str(COLLECTION),
                           "--output-path", str(tmp_path)],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with tarfile.open(tmp_path / "velollm-ollama-0.1.0.tar.gz") as tar:
        names = set(tar.getnames())
    for member in ("plugins/modules/velollm_apply.py", "plugins/modules/velollm_facts.py",
                   "plugins/module_utils/velollm_cli.py", "roles/velollm/tasks/main.yml",
                   "roles/velollm/handlers/main.yml", "playbooks/rollout.yml", "MANIFEST.json"):
        assert member in names


@pytest.fixture
def velollm_cli() -> Any:
    pytest.importorskip("ansible.module_utils.basic", reason="ansible-core is not installed")
    sys.path.insert(0, str(h.ANSIBLE_DIR))
    try:
        from ansible_collections.velollm.ollama.plugins.module_utils import velollm_cli
        yield velollm_cli
    finally:
        sys.path.remove(str(h.ANSIBLE_DIR))


def test_failure_message_joins_velollms_errors_and_hint(velollm_cli: Any) -> None:
    doc = {"format_version": 1, "status": "error", "errors": [
        {"path": "$.server.num_gpu", "message": "num_gpu is a per-model parameter"},
        {"path": "", "message": "second problem"}]}
    stderr = "error: a\nhint: put it under models[]\n"
    assert velollm_cli.failure_message("apply", 1, doc, stderr) == (
        "velollm apply failed: $.server.num_gpu: num_gpu is a per-model parameter; "
        "second problem (hint: put it under models[])")


def test_failure_message_without_json_uses_stderr(velollm_cli: Any) -> None:
    message = velollm_cli.failure_message("apply", 1, None, "error: disk full\nhint: free space\n")
    assert message == "velollm apply failed: disk full (hint: free space)"
    usage = velollm_cli.failure_message(
        "apply", 2, None, "usage: velollm ...\nvelollm: error: invalid choice: 'apply'\n")
    assert usage.startswith("velollm apply was refused on this host (velollm: error: invalid")
    assert "upgrade velollm on the host" in usage


def test_env_expands_home_and_disables_colour(velollm_cli: Any) -> None:
    env = velollm_cli.velollm_env({"XDG_STATE_HOME": "~/state", "N": 3})
    assert env == {"NO_COLOR": "1", "XDG_STATE_HOME": os.path.expanduser("~/state"), "N": "3"}


def test_failure_message_names_file_and_line_when_velollm_gives_them(velollm_cli: Any) -> None:
    doc = {"errors": [{"file": "/tmp/x/velollm.yaml", "line": 3, "path": "$.server.num_gpu",
                       "message": "put it under models[]"}]}
    assert velollm_cli.failure_message("apply", 1, doc, "") == (
        "velollm apply failed: velollm.yaml:3: $.server.num_gpu: put it under models[]")
