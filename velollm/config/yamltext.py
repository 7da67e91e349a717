"""The bytes of a velollm.yaml before YAML sees them: bounded, in time, UTF-8, no NUL, no tabs
used for indentation (yamlload.py parses what this lets through)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from velollm.errors import SchemaValidationError

MAX_BYTES = 256 * 1024  # see yamlload.py's bounds
Problem = dict[str, Any]  # {"path": "$.server.x", "line": 7 | None, "message": "..."}
_TAB_INDENT = re.compile(r"^ *\t", re.MULTILINE)


def problem(path: str, line: int | None, message: str) -> Problem:
    return {"path": path, "line": line, "message": message}


def _fail(name: str, problems: list[Problem]) -> SchemaValidationError:
    named = [{"file": name, **p} for p in problems]  # so every command prints FILE:LINE
    return SchemaValidationError(f"{name} cannot be read as YAML", named)


def read_bytes(path: Path) -> bytes:
    """At most MAX_BYTES + 1 bytes (decode() says when there are more), within a deadline: a FIFO
    or a terminal given as the config never hangs (velollm/io/inputfile.py)."""
    from velollm.io.inputfile import read_prefix

    return read_prefix(path, limit=MAX_BYTES + 1, what="a velollm.yaml file",
                       hint="create one with `velollm init`")


def decode(raw: bytes, name: str) -> str:
    def at(offset: int) -> int:
        return raw[:offset].count(b"\n") + 1

    if len(raw) > MAX_BYTES:
        raise _fail(name, [problem("$", None, f"the file is larger than {MAX_BYTES} bytes; "
                                              "a velollm.yaml is a few hundred bytes")])
    if b"\x00" in raw:
        raise _fail(name, [problem("$", at(raw.index(b"\x00")),
                                   "the file contains NUL bytes: is it a binary file?")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(name, [problem("$", at(exc.start),
                                   f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}): "
                                   "save it as UTF-8")]) from None
    tabs = [m.start() for m in _TAB_INDENT.finditer(text)]
    if tabs:
        raise _fail(name, [problem("$", text[:t].count("\n") + 1,
                                   "a tab is used for indentation; YAML allows spaces only")
                           for t in tabs[:10]])
    return text
