"""core/files.RenderedFile: the text may be rendered on first use (a plan shown in a terminal
never needs it), once, and the file is then the same value as one made with the text."""

from __future__ import annotations

from pathlib import Path

from velollm.core.files import RenderedFile


def test_deferred_text_is_rendered_once_and_only_when_read() -> None:
    calls: list[int] = []

    def render() -> str:
        calls.append(1)
        return "export A=1\n"

    lazy = RenderedFile(Path("/x/env.sh"), render, kind="shell")
    assert lazy.path == Path("/x/env.sh") and lazy.kind == "shell" and "shell" in repr(lazy)
    assert calls == []
    assert lazy.content == "export A=1\n" and lazy.content == "export A=1\n"
    assert calls == [1]
    assert lazy == RenderedFile(Path("/x/env.sh"), "export A=1\n", kind="shell")
    assert lazy != RenderedFile(Path("/x/env.sh"), "export A=2\n", kind="shell")


def test_the_plan_form_round_trips_and_keeps_the_hash() -> None:
    made = RenderedFile(Path("/x/env.sh"), lambda: "export B=2\n", 0o600, "shell",
                        ("systemctl daemon-reload",), "sourced", "by hand")
    doc = made.to_dict()
    assert doc["content"] == "export B=2\n" and doc["mode"] == 0o600
    assert RenderedFile.from_dict(doc) == made
    assert made.with_mode(0o644).mode == 0o644 and made.with_mode(0o644).content == made.content
