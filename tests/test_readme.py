from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert "velollm detect" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()[ci.splitlines().index(
        "# The README's test command, verbatim (tests/test_readme.py checks they agree).") + 2]


def test_readme_installs_velollm_from_the_repository_not_pypi() -> None:
    # velollm is not on PyPI: `pip install velollm` would install nothing (or someone else's)
    for doc in ("README.md", "ansible/ansible_collections/velollm/ollama/README.md",
                "ansible/ansible_collections/velollm/ollama/plugins/module_utils/velollm_cli.py"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        assert not re.search(r"pip install velollm(?![-\w.])", text), doc  # a wheel's name is fine
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    ansible = text.split("## Fleet rollout with Ansible", 1)[1].split("\n## ", 1)[0]
    assert "python3 -m pip install 'git+https://" in ansible
    assert "python3 -m pip wheel --no-deps -w dist ." in ansible


def test_typical_session_restarts_the_server_between_apply_and_verify() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    session = text.split("A typical session:", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in session.splitlines()]
    apply, verify = lines.index("velollm apply plan.json"), lines.index("velollm verify")
    between = lines[apply + 1:verify]
    assert ". ~/.config/velollm/ollama.env.sh && ollama serve" in between  # shell target
    assert "sudo systemctl daemon-reload && sudo systemctl restart ollama" in between  # systemd


def test_usage_lists_every_command() -> None:
    from velollm.main import COMMANDS

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    usage = text.split("## Usage", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    listed = set(re.findall(r"^velollm ([a-z]+)", usage, re.MULTILINE))
    assert set(COMMANDS) <= listed, sorted(set(COMMANDS) - listed)
