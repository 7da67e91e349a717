"""The bounded reader of every file a user names: size, time and nesting limits (issue 15)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from velollm.backends.ollama.logs import read_log
from velollm.bench.baseline import load_baseline
from velollm.errors import ConfigError
from velollm.io import inputfile
from velollm.io.inputfile import load_json, nesting_depth, read_regular, read_tail


def test_read_tail_seeks_in_a_huge_log(tmp_path: Path) -> None:
    log = tmp_path / "ollama.log"
    with log.open("wb") as fh:
        fh.truncate(3 * 2**30)  # 3 GiB, sparse: never read whole
        fh.seek(0, os.SEEK_END)
        fh.write(b"last line\n")
    assert read_tail(log, max_bytes=10, what="a log") == b"last line\n"


def test_read_tail_refuses_a_device_that_never_ends() -> None:
    with pytest.raises(ConfigError, match="no end"):
        read_tail(Path("/dev/zero"), max_bytes=1024, what="an Ollama log")


def test_read_tail_keeps_the_end_of_a_pipe(tmp_path: Path) -> None:
    """`velollm verify --log <(journalctl -u ollama)`."""
    read_end, write_end = os.pipe()

    def writer() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            for i in range(2000):
                pipe.write(f"line {i}\n".encode())

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        got = read_tail(Path(f"/dev/fd/{read_end}"), max_bytes=2000, what="a log")
    finally:
        thread.join()
        os.close(read_end)
    assert got.endswith(b"line 1998\nline 1999\n") and len(got) == 2000


def test_read_log_of_dev_zero_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("velollm.backends.ollama.logs.MAX_LOG_BYTES", 4096)
    with pytest.raises(ConfigError, match="/dev/zero gives more than"):
        read_log(Path("/dev/zero"))


@pytest.mark.parametrize("special", ["fifo", "directory", "/dev/null"])
def test_read_regular_never_reads_what_is_not_a_file(special: str, tmp_path: Path) -> None:
    path = {"fifo": tmp_path / "fifo", "directory": tmp_path}.get(special, Path(special))
    if special == "fifo":
        os.mkfifo(path)
    with pytest.raises(ConfigError, match="is not a regular file"):
        read_regular(path, max_bytes=100, what="a target file")
    assert read_regular(tmp_path / "absent", max_bytes=100, what="a target file") is None


def test_a_slow_writer_meets_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputfile, "READ_DEADLINE_S", 0.3)
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(ConfigError, match=r"no end of file within 0\.3 s"):
            inputfile.read_prefix(Path(f"/dev/fd/{read_end}"), limit=100, what="x")
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize(("text", "depth"), [
    ("{}", 1), ('{"a": [1, {"b": []}]}', 4), ('"[[[["', 0), ('["\\"[[", [[]]]', 3)])
def test_nesting_depth_ignores_brackets_in_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


@pytest.mark.parametrize(("raw", "says"), [
    (b"[" * 5000 + b"]" * 5000, "nested 5000 levels"), (b"NaN", "NaN is not a JSON number"),
    (b'{"a": 1, "a": 2}', "duplicate key 'a'"), (b"9" * 40, "has 40 digits"),
    (b"\xff\xfe{}", "is not UTF-8"), (b"", "empty"), (b"{", "not valid JSON")])
def test_load_json_refuses(raw: bytes, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        load_json(raw, Path("doc.json"), what="a document", max_depth=8)


def test_a_json_syntax_error_says_where_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load_json(b'{"a":\n 1,,}', Path("doc.json"), what="a document", max_depth=8)
    assert caught.value.message == ("doc.json is not a document: not valid JSON (line 2, column "
                                    "4: expecting property name enclosed in double quotes)")


@pytest.mark.parametrize("content", [b"[" * 100_000 + b"]" * 100_000, b"\x00" * 64, b"[]",
                                     b'{"model": "m", "suite": {}, "benchmarks": 1}'])
def test_a_baseline_that_lies_is_a_clear_error(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError):
        load_baseline(path)
