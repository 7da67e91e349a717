"""`velollm plan --hardware FILE` with files that lie (issue 15): each is refused with a clear
message and exit 1, no traceback, no crash log, nothing written; none hangs."""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli import hwdocs
from tests.cli.cliutil import cli, refused
from velollm.io import inputfile

Doc = dict[str, Any]


def _edit(change: Callable[[Doc], None]) -> bytes:
    doc = copy.deepcopy(hwdocs.hardware(gpus=[hwdocs.nvidia("RTX 4090", 24)]))
    change(doc)
    return json.dumps(doc).encode()


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[int(key)] if isinstance(doc, list) else doc[key]
        doc[last] = value
    return change


GOOD = _edit(lambda _doc: None)
# name -> (file content, a fragment of the message)
CASES: dict[str, tuple[bytes, str]] = {
    "deep_array": (b"[" * 100_000 + b"]" * 100_000, "nested 100000 levels deep"),
    "deep_object": (b'{"a":' * 50 + b"1" + b"}" * 50, "nested 50 levels deep"),
    "deep_in_notes": (GOOD.replace(b'"notes": []', b'"notes": ' + b"[" * 20 + b"]" * 20),
                      "nested 23 levels deep"),
    "empty": (b"", "the file is empty"),
    "blank": (b" \n\t\n", "the file is empty"),
    "binary": (bytes(range(256)) * 4, "is not UTF-8"),
    "utf16": (GOOD.decode().encode("utf-16"), "is not UTF-8"),
    "not_json": (b"{not json", "not valid JSON"),
    "truncated": (GOOD[: len(GOOD) // 2], "not valid JSON"),
    "top_level_list": (b"[1, 2]", "(a JSON object)"),
    "top_level_null": (b"null", "(a JSON object)"),
    "top_level_string": (b'"velollm.hardware"', "(a JSON object)"),
    "nan": (GOOD.replace(b"4000.0", b"NaN"), "NaN is not a JSON number"),
    "infinity": (GOOD.replace(b"4000.0", b"-Infinity"), "-Infinity is not a JSON number"),
    "float_overflow": (GOOD.replace(b"4000.0", b"1e400"), "greater than the maximum"),
    "digits_5000": (GOOD.replace(b'"index": 0', b'"index": ' + b"9" * 5000), "has 5000 digits"),
    "huge_vram": (_edit(_set("gpus.0.vram_total_bytes", 10**25)), "greater than the maximum"),
    "negative_ram": (_edit(_set("memory.total_bytes", -1)), "less than the minimum"),
    "bool_ram": (_edit(_set("memory.total_bytes", True)), "is not of type 'integer'"),
    "float_cores": (_edit(_set("cpu.physical_cores", 8.5)), "is not of type 'integer'"),
    "huge_cores": (_edit(_set("cpu.physical_cores", 10**9)), "greater than the maximum"),
    "format_version_2": (_edit(_set("format_version", 2)), "1 was expected"),
    "format_version_str": (_edit(_set("format_version", "1")), "1 was expected"),
    "format_version_null": (_edit(_set("format_version", None)), "1 was expected"),
    "kind": (_edit(_set("kind", "velollm.plan")), "'velollm.hardware' was expected"),
    "version_garbage": (_edit(_set("ollama.version", "x.y.z..garbage")), "does not match"),
    "version_empty": (_edit(_set("ollama.version", "")), "does not match"),
    "version_huge_number": (_edit(_set("ollama.version", "9" * 40 + ".1")), "does not match"),
    "version_5000_chars": (_edit(_set("ollama.version", "1" * 5000)), "is too long"),
    "version_nul": (_edit(_set("ollama.version", "0.5.4\x00")), "does not match"),
    "server_version_garbage": (_edit(_set("ollama.server_version", "latest")), "does not match"),
    "velollm_version_long": (_edit(_set("velollm_version", "x" * 100_000)), "is too long"),
    "cc_words": (_edit(_set("gpus.0.compute_capability", "abc")), "does not match"),
    "cc_major_only": (_edit(_set("gpus.0.compute_capability", "9")), "does not match"),
    "cc_three_parts": (_edit(_set("gpus.0.compute_capability", "9.0.1")), "does not match"),
    "cc_sm": (_edit(_set("gpus.0.compute_capability", "sm_90")), "does not match"),
    "cc_space": (_edit(_set("gpus.0.compute_capability", " 9.0")), "does not match"),
    "cc_fullwidth": (_edit(_set("gpus.0.compute_capability", "\uff19.\uff10")), "does not match"),
    "cc_negative": (_edit(_set("gpus.0.compute_capability", "-1.0")), "does not match"),
    "cc_number": (_edit(_set("gpus.0.compute_capability", 9.0)), "is not of type"),
    "gpu_vendor": (_edit(_set("gpus.0.vendor", "nvidia\n")), "is not one of"),
    "too_many_gpus": (_edit(lambda d: d.update(gpus=[hwdocs.nvidia("G", 8, i) for i in range(65)])),
                      "is too long"),
    "extra_key": (_edit(_set("cpu.evil", 1)), "Additional properties are not allowed"),
    "missing_key": (_edit(lambda d: d.pop("memory")), "'memory' is a required property"),
    "duplicate_key": (GOOD.replace(b'"kind": "velollm.hardware"',
                                   b'"kind": "x", "kind": "velollm.hardware"'),
                      "duplicate key 'kind'"),
    "huge_file": (b" " * (2 * 1024 * 1024) + GOOD, "larger than 1048576 bytes"),
    "digits_41": (_edit(_set("gpus.0.vram_total_bytes", 10**40)), "has 41 digits"),
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "velollm.yaml").write_text("version: 1\ntarget: {kind: shell}\n")
    return tmp_path


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_hardware_file_is_refused(name: str, workdir: Path, isolated_home: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    content, fragment = CASES[name]
    (workdir / "hw.json").write_bytes(content)
    said = refused(capsys, (isolated_home, workdir), "plan", "--hardware", "hw.json")
    assert fragment in said


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null", "directory", "missing", "fifo"])
def test_special_paths_are_refused_without_hanging(special: str, workdir: Path,
                                                   isolated_home: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = {"directory": str(workdir), "missing": "nothing.json",
            "fifo": str(workdir / "fifo")}.get(special, special)
    if special == "fifo":
        os.mkfifo(path)  # nobody writes it: it reads as empty, at once
    said = refused(capsys, (isolated_home,), "plan", "--hardware", path)
    assert {"/dev/zero": "larger than", "/dev/null": "the file is empty",
            "directory": "is a directory", "missing": "no such file",
            "fifo": "the file is empty"}[special] in said


def test_a_pipe_that_never_ends_meets_the_deadline(workdir: Path, isolated_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(inputfile, "READ_DEADLINE_S", 0.5)
    read_end, write_end = os.pipe()
    os.write(write_end, b"{")  # a writer that starts and then stalls
    try:
        said = refused(capsys, (isolated_home,), "plan", "--hardware", f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
        os.close(write_end)
    assert "gave no end of file within 0.5 s" in said


def test_a_pipe_that_ends_is_read(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`velollm plan --hardware <(ssh host velollm detect --json)` keeps working."""
    read_end, write_end = os.pipe()

    def writer() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            for i in range(0, len(GOOD), 100):
                pipe.write(GOOD[i:i + 100])
                pipe.flush()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        code, out, err = cli(capsys, "plan", "--hardware", f"/dev/fd/{read_end}", "--json")
    finally:
        thread.join()
        os.close(read_end)
    assert code == 0, err
    assert json.loads(out)["format_version"] == 1


@pytest.mark.parametrize(("vendor", "capability"), [("nvidia", "9.0"), ("nvidia", "12.10"),
                                                    ("amd", "gfx1100"), ("apple", "metal3")])
def test_real_compute_capabilities_are_accepted(vendor: str, capability: str, workdir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    gpu = {**hwdocs.nvidia("G", 24), "vendor": vendor, "compute_capability": capability}
    hwdocs.write(workdir / "hw.json", hwdocs.hardware(gpus=[gpu]))
    code, _, err = cli(capsys, "plan", "--hardware", "hw.json")
    assert code == 0, err
