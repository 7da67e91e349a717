"""velollm.yaml files that lie (issue 15), through `velollm plan`: each is refused with a clear
message and exit 1 (no traceback, no crash log, nothing written) and none hangs. The slowest
shapes PyYAML can be given are timed by benchmarks/yaml_worst_case.py, not here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import refused
from velollm.config.yamlload import MAX_ALIASES, MAX_BYTES, MAX_DEPTH, MAX_NODES

B = "version: 1\ntarget: {kind: shell}\n"
M = "models:\n  - name: llama3.2:1b\n"
LAUGHS = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
# name -> (velollm.yaml, a fragment of the message)
CASES: dict[str, tuple[str | bytes, str]] = {
    "billion_laughs": ("version: 1\n" + LAUGHS, "expand to more than"),
    "alias_count": ("version: 1\na: &a 1\nb: [" + "*a, " * (MAX_ALIASES + 1) + "]\n",
                    f"more than {MAX_ALIASES} aliases"),
    "alias_to_itself": ("version: 1\na: &a [*a]\n", "refers to itself"),
    "deep_flow": ("version: 1\nx: " + "[" * 100_000 + "]" * 100_000 + "\n",
                  f"nested more than {MAX_DEPTH} levels"),
    "deep_block_seq": ("version: 1\nx:\n" + "- " * 50_000 + "\n",
                       f"nested more than {MAX_DEPTH} levels"),
    "many_values": ("version: 1\nx: [" + "1, " * (MAX_NODES + 1) + "]\n",
                    f"more than {MAX_NODES} values"),
    "huge_scalar": (B + "server:\n  origins: '" + "a" * (MAX_BYTES + 10) + "'\n",
                    f"larger than {MAX_BYTES} bytes"),
    "long_value": (B + "server:\n  origins: '" + "a" * 9000 + "'\n", "9000 bytes long"),
    "latin1": ("version: 1\nprofile: caf\xe9\n".encode("latin-1"), "not UTF-8 text"),
    "utf16": ("version: 1\n".encode("utf-16"), "NUL bytes"),
    "lone_surrogate_escape": (B + 'server:\n  origins: "\\ud800"\n', "not valid Unicode"),
    "noncharacter": (B + 'server:\n  origins: "a\\uFFFEb"\n', "noncharacter U+FFFE"),
    "control_char": (B + 'server:\n  origins: "a\\x1bb"\n', "control character"),
    "empty": ("", "the file is empty"),
    "top_level_list": ("- version: 1\n", "must be a mapping"),
    "digits_5000": ("version: 1\nverify: {iterations: " + "9" * 5000 + "}\n", "5000 digits"),
    "nan": (B + "verify: {max_regression: .nan}\n", "not a finite number"),
    "infinity": (B + "overrides:\n  - when: {vram_gb: .inf}\n    server: {keep_alive: 5m}\n",
                 "not a finite number"),
    "sexagesimal": (B + "server: {keep_alive: 1:30}\n", "would be read as the number 90"),
    "octal": (B + "models:\n  - name: m\n    num_thread: 010\n", "read as the number 8"),
    "float_for_integer": (B + M + "    num_ctx: 4096.0\n", "is not of type 'integer'"),
    "float_iterations": (B + "verify: {iterations: 5.0}\n", "is not of type 'integer'"),
    "bool_for_integer": (B + M + "    num_ctx: true\n", "num_ctx"),
    "python_tag": ("version: 1\nx: !!python/object/apply:os.system ['id']\n", "not allowed"),
    "binary_tag": (B + "server: {origins: !!binary aGVsbG8=}\n", "not allowed"),
    "merge_key": ("version: 1\nx: &a {b: 1}\ny: {<<: *a}\n", "merge keys"),
    "duplicate_key": ("version: 1\nversion: 1\n", "duplicate key"),
    "two_documents": ("version: 1\n---\nversion: 1\n", "another document"),
    "tab_indent": ("version: 1\nserver:\n\tkeep_alive: 5m\n", "tab is used for indentation"),
    "complex_key": ("version: 1\n? [a]\n: x\n", "a key must be a plain name"),
    "version_2": ("version: 2\n", "unsupported version"),
    "profile_is_dev_zero": ("version: 1\nprofile: /dev/zero\n", "not found"),
    "tab_in_target_path": ('version: 1\ntarget: {kind: fish, path: "a\\tb.fish"}\n',
                           "$.target.path: contains a line break or control character"),
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    hwdocs.write(tmp_path / "hw.json", hwdocs.hardware())
    return tmp_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_config_is_refused(name: str, workdir: Path, isolated_home: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    content, fragment = CASES[name]
    path = workdir / "velollm.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    said = refused(capsys, (isolated_home, workdir), "plan", "--hardware", "hw.json")
    assert fragment in said
    assert "velollm.yaml" in said  # the message names the file


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/null", "directory", "missing"])
def test_special_config_paths_are_refused_without_hanging(
        special: str, workdir: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = {"fifo": str(workdir / "fifo"), "directory": str(workdir),
            "missing": "nothing.yaml"}.get(special, special)
    if special == "fifo":
        os.mkfifo(path)  # nobody writes it: it reads as empty at once
    said = refused(capsys, (isolated_home,), "plan", "-f", path, "--hardware", "hw.json")
    assert {"fifo": "the file is empty", "/dev/zero": "larger than", "/dev/null": "empty",
            "directory": "is a directory", "missing": "no such file"}[special] in said


def test_a_huge_profile_file_is_refused(workdir: Path, isolated_home: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "mine.yaml").write_text("description: x\nobjective: balanced\n#"
                                       + "#" * MAX_BYTES + "\n")
    (workdir / "velollm.yaml").write_text("version: 1\nprofile: ./mine.yaml\n")
    said = refused(capsys, (isolated_home, workdir), "plan", "--hardware", "hw.json")
    assert f"larger than {MAX_BYTES} bytes" in said and "mine.yaml" in said


@pytest.mark.parametrize("special", ["fifo", "/dev/null", "directory"])
def test_a_target_path_that_is_not_a_file_is_refused_unread(
        special: str, workdir: Path, isolated_home: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A FIFO there would block plan forever when it reads what the target holds now."""
    path = {"fifo": workdir / "fifo", "directory": workdir / "dir"}.get(special, Path(special))
    if special == "fifo":
        os.mkfifo(path)
    elif special == "directory":
        path.mkdir()
    (workdir / "velollm.yaml").write_text(f"version: 1\ntarget: {{kind: shell, path: {path}}}\n")
    for command in ("plan", "apply"):
        said = refused(capsys, (isolated_home, workdir), command, "--hardware", "hw.json",
                       *(["--auto-approve"] if command == "apply" else []))
        assert f"{path} is not a regular file" in said
