"""Reading a file the user names (velollm.yaml, a profile, a hardware document): bounded in size,
in time and in nesting, so no file (/dev/zero, a FIFO nobody writes, a terminal, a 2 GB file, a
document nested a million levels deep) can hang velollm or crash it.

A pipe is still welcome (`velollm plan --hardware <(ssh host velollm detect --json)`): it is
read until its end within READ_DEADLINE_S; a FIFO with no writer reads as empty.
"""

from __future__ import annotations

import json
import os
import re
import select
import stat
import time
from collections import deque
from pathlib import Path
from typing import Any

from velollm.errors import ConfigError

READ_DEADLINE_S = 10.0
_CHUNK = 64 * 1024
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_MAX_DIGITS = 30  # far beyond any byte count; Python itself refuses 4300
_BRACKET = re.compile(r"[\[\]{}]")


def read_capped(path: Path, *, max_bytes: int, what: str, hint: str | None = None) -> bytes:
    """All of `path`; a ConfigError naming `what` when it is longer than `max_bytes`, is not a
    file, or gives no end within READ_DEADLINE_S seconds."""
    data = read_prefix(path, limit=max_bytes + 1, what=what, hint=hint)
    if len(data) > max_bytes:
        raise ConfigError(f"{path} is larger than {max_bytes} bytes, far more than {what} holds: "
                          "is it the right file?", hint=hint, path=str(path))
    return data


def read_prefix(path: Path, *, limit: int, what: str, hint: str | None = None) -> bytes:
    """The first `limit` bytes of `path` (all of it when shorter), read within READ_DEADLINE_S."""
    return _read_fd(path, limit=limit, what=what, hint=hint)[0]


def _read_fd(path: Path, *, limit: int, what: str, hint: str | None,
             keep: int | None = None) -> tuple[bytes, int]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}", hint=hint, path=str(path)) from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not {what}", hint=hint, path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}", hint=hint,
                          path=str(path)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{path} is a directory, not {what}", hint=hint, path=str(path))
        return _read_until_end(fd, limit, READ_DEADLINE_S, path, what, keep)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}", hint=hint,
                          path=str(path)) from None
    finally:
        os.close(fd)


def read_regular(path: Path, *, max_bytes: int, what: str) -> bytes | None:
    """A file velollm manages (a target it is about to replace): None when there is none. A FIFO,
    a device or a directory there is refused, never read or replaced; so is a file larger than
    `max_bytes`, which velollm never wrote."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}", path=str(path)) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path} is not a regular file ({_kind(info.st_mode)}): velollm writes "
                          f"{what} only as a regular file", path=str(path),
                          hint="choose another path, or remove what is there")
    return read_capped(path, max_bytes=max_bytes, what=what)


def read_tail(path: Path, *, max_bytes: int, what: str, hint: str | None = None) -> bytes:
    """The last `max_bytes` of `path` (a log that may be huge): seeks in a regular file; a pipe
    (`--log <(journalctl -u ollama)`) is read to its end within READ_DEADLINE_S, keeping its
    tail; a device that never ends (/dev/zero) is refused once more than 16 times that came."""
    try:
        if stat.S_ISREG(path.stat().st_mode):
            with path.open("rb") as fh:
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - max_bytes))
                return fh.read(max_bytes)
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}", hint=hint, path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}", hint=hint,
                          path=str(path)) from None
    endless = 16 * max_bytes
    data, size = _read_fd(path, limit=endless + 1, what=what, hint=hint, keep=max_bytes)
    if size > endless:
        raise ConfigError(f"{path} gives more than {endless} bytes and no end: is it {what}?",
                          hint=hint, path=str(path))
    return data


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a plain file"


def _read_until_end(fd: int, limit: int, seconds: float, path: Path, what: str,
                    keep: int | None = None) -> tuple[bytes, int]:
    """(what was read, or its last `keep` bytes; how many bytes were read), up to `limit`."""
    deadline = time.monotonic() + seconds
    chunks: deque[bytes] = deque()
    size = kept = 0
    while size < limit:
        try:
            chunk = os.read(fd, min(_CHUNK, limit - size))
        except BlockingIOError:  # a pipe or terminal with nothing to read yet
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ConfigError(f"{path} gave no end of file within {seconds:g} s: "
                                  f"is it a pipe or terminal rather than {what}?",
                                  path=str(path)) from None
            continue
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        kept += len(chunk)
        while keep is not None and kept - len(chunks[0]) >= keep:
            kept -= len(chunks.popleft())
        if time.monotonic() > deadline:
            raise ConfigError(f"{path} could not be read within {seconds:g} s",
                              path=str(path))
    data = b"".join(chunks)
    return (data if keep is None else data[-keep:]), size


def load_json(raw: bytes, path: Path, *, what: str, max_depth: int,
              hint: str | None = None) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity, no integer beyond Python's digit limit, nested at
    most `max_depth` levels (checked before parsing, so the parser never recurses deeply)."""
    def refuse(reason: str) -> ConfigError:
        return ConfigError(f"{path} is not {what}: {reason}", hint=hint, path=str(path))

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise refuse(f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not UTF-8 "
                     "(a binary file?)") from None
    if not text.strip():
        raise refuse("the file is empty")
    depth = nesting_depth(text)
    if depth > max_depth:
        raise refuse(f"it is nested {depth} levels deep, more than the {max_depth} it can be")

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    def bounded_int(digits: str) -> int:
        if len(digits) > _MAX_DIGITS:
            raise ValueError(f"the number {digits[:12]}... has {len(digits)} digits")
        return int(digits)

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) < len(keys):
            twice = next(k for k in keys if keys.count(k) > 1)
            raise ValueError(f"duplicate key {twice!r}: JSON readers would silently keep one")
        return dict(pairs)

    try:
        return json.loads(text, parse_constant=no_constant, parse_int=bounded_int,
                          object_pairs_hook=unique_keys)
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, an integer of 5000 digits
        raise refuse(f"not valid JSON ({_json_problem(exc)})") from None
    except RecursionError:  # cannot happen below max_depth; kept as the last guard
        raise refuse("it is nested too deeply") from None


def _json_problem(exc: ValueError) -> str:
    """A syntax error says where once (its str() repeats it as a character offset)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}: {exc.msg[0].lower()}{exc.msg[1:]}"
    return str(exc)


def nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings: no recursion, one regex pass."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest
