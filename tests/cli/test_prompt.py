"""confirm: only an exact "yes" goes ahead; --json and a missing terminal refuse without asking."""

from __future__ import annotations

import pytest

from velollm import output
from velollm.cli.prompt import confirm
from velollm.errors import VelollmError


def _ask(monkeypatch: pytest.MonkeyPatch, answer: str, *, tty: bool = True) -> list[str]:
    asked: list[str] = []

    def fake_input(prompt: str = "") -> str:
        asked.append(prompt)
        return answer

    monkeypatch.setattr("sys.stdin.isatty", lambda: tty)
    monkeypatch.setattr("builtins.input", fake_input)
    confirm("apply", "Do you want to perform these actions?", review="velollm plan",
            unchanged="nothing was written")
    return asked


def test_yes_goes_ahead(monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    assert _ask(monkeypatch, " yes\n") == ["  Enter a value: "]
    assert "Do you want to perform these actions? Only 'yes' will be accepted." in (
        capsys.readouterr().out)


@pytest.mark.parametrize("answer", ["y", "YES", "no", ""])
def test_anything_but_yes_cancels(monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    with pytest.raises(VelollmError, match=r"^Apply cancelled\.$") as info:
        _ask(monkeypatch, answer)
    assert info.value.hint == "nothing was written"


def test_no_terminal_refuses_without_asking(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(VelollmError, match="no terminal to ask on") as info:
        _ask(monkeypatch, "yes", tty=False)
    assert info.value.hint == "review `velollm plan`, then re-run with --auto-approve"


def test_json_mode_never_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    output.configure(color="never", verbosity=0, json_mode=True)
    with pytest.raises(VelollmError, match=r"apply --json cannot ask for confirmation"):
        _ask(monkeypatch, "yes")
