"""Hostile files that are generated rather than committed: binary, huge, deep, many aliases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from velollm import main
from velollm.config.yamlload import MAX_ALIASES, MAX_DEPTH
from velollm.config.yamltext import MAX_BYTES

CASES: dict[str, tuple[bytes, str]] = {
    "nul_bytes": (b"version: 1\nserver:\x00\n", "NUL bytes"),
    "latin1": ("version: 1\nprofile: caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9)"),
    "utf16": ("version: 1\n".encode("utf-16"), "NUL bytes"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "NUL bytes"),
    "huge": (b"version: 1\n" + b"# padding padding padding\n" * (10 * 1024 * 1024 // 26),
             f"larger than {MAX_BYTES} bytes"),
    "deep_flow": (b"version: 1\nx: " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
                  f"nested more than {MAX_DEPTH} levels"),
    "deep_block": (b"version: 1\n" + b"".join(b" " * i + b"k:\n" for i in range(300)),
                   f"nested more than {MAX_DEPTH} levels"),
    "many_aliases": (b"version: 1\na: &a 1\nb: [" + b"*a, " * (MAX_ALIASES + 1) + b"]\n",
                     f"more than {MAX_ALIASES} aliases"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_is_refused_cleanly(name: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    content, fragment = CASES[name]
    case = tmp_path / f"{name}.yaml"
    case.write_bytes(content)
    assert main.main(["validate", "--json", str(case)]) == 1
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["valid"] is False
    assert any(fragment in e["message"] for e in doc["errors"]), doc["errors"]
    assert "Traceback" not in err


def test_binary_error_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "velollm.yaml"
    case.write_bytes(b"version: 1\nserver:\n  models: /srv/\xff\xfe\n")
    assert main.main(["validate", str(case)]) == 1
    assert f"{case}:3: $: the file is not UTF-8" in capsys.readouterr().out


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_unreadable_path(what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = tmp_path / "velollm.yaml"
    if what == "directory":
        case.mkdir()
    assert main.main(["validate", str(case)]) == 1
    out, err = capsys.readouterr()
    assert str(case) in out and ("no such file" in out or "is a directory" in out)
    assert "Traceback" not in err
