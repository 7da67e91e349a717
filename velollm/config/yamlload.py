"""Hostile-input-safe YAML loading with a line number for every key path.

Refuses what PyYAML would accept silently or choke on: duplicate keys (PyYAML keeps the last),
alias bombs, deep nesting (a RecursionError in the composer), huge files, binary bytes, tabs used
for indentation, and any tag beyond plain YAML values (!!python/object and friends).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velollm.config.yamltext import (  # re-exported: the callers' one entry point
    Problem,
    _fail,
    decode,
    problem,
    read_bytes,
)

if TYPE_CHECKING:
    import yaml

# A velollm.yaml is a few hundred bytes, a heavily commented one a few KiB. PyYAML is pure
# Python (~10-40 s per MiB of dense flow collections on a busy machine): these bounds (and
# yamltext.MAX_BYTES) keep the worst file under a few seconds (benchmarks/yaml_worst_case.py).
MAX_DEPTH = 64            # far below Python's recursion limit
MAX_ALIASES = 100
MAX_NODES = 10_000        # values in the file, and after alias expansion (billion laughs)

_Y = "tag:yaml.org,2002:"
_CONSTRUCTED = {f"{_Y}{t}" for t in ("null", "bool", "int", "float")}
_PLAIN = {f"{_Y}seq", f"{_Y}map"}
# YAML 1.1 numbers nobody writes on purpose in a config: sexagesimal (1:30) and octal (010).
_SURPRISING_NUMBER = re.compile(r"[-+]?([0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?|0[0-7_]+)\Z")


@dataclass(frozen=True)
class Loaded:
    data: Any
    lines: dict[str, int]  # key path -> 1-based line

    def line(self, path: str) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", path)
        return None


class _Refused(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


def load_yaml(path: Path, name: str | None = None) -> Loaded:
    return load_text(decode(read_bytes(path), name or str(path)), name or str(path))


def load_text(text: str, name: str) -> Loaded:
    import yaml

    loader = None
    try:
        loader = _loader_class()(text)  # the reader refuses non-printable characters here
        node = loader.get_single_node()
    except _Refused as exc:
        raise _fail(name, [problem("$", exc.line, exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = f"{exc.problem}" + (f" ({exc.context})" if exc.context else "")
        raise _fail(name, [problem("$", mark.line + 1 if mark else None,
                                   f"YAML syntax error: {detail}")]) from None
    except yaml.reader.ReaderError as exc:
        raise _fail(name, [problem("$", text[:exc.position].count("\n") + 1,
                                   f"the file contains a character YAML does not allow "
                                   f"(#x{exc.character:04x})")]) from None
    except yaml.YAMLError as exc:
        raise _fail(name, [problem("$", None, f"YAML error: {exc}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise _fail(name, [problem("$", None, "the file is empty: start with `version: 1` "
                                              "(or run `velollm init`)")])
    if _expanded_size(node, {}) > MAX_NODES:
        raise _fail(name, [problem("$", None, "aliases expand to more than "
                                              f"{MAX_NODES} values (an alias bomb?)")])
    return _Converter(loader).run(node, name)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    import yaml

    if id(node) not in memo:
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(_expanded_size(n, memo) for n in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
        memo[id(node)] = min(size, MAX_NODES + 1)
    return memo[id(node)]


def _loader_class() -> type[yaml.SafeLoader]:
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that counts depth and aliases while composing (before any expansion)."""

        depth = 0
        aliases = 0
        nodes = 0
        open_anchors: frozenset[str] = frozenset()

        def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            line = event.start_mark.line + 1 if event.start_mark else None
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise _Refused(f"the file holds more than {MAX_NODES} values", line)
            if isinstance(event, yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    raise _Refused(f"more than {MAX_ALIASES} aliases (an alias bomb?)", line)
                if event.anchor in self.open_anchors:
                    raise _Refused(f"alias *{event.anchor} refers to itself", line)
                return super().compose_node(parent, index)
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _Refused(f"values are nested more than {MAX_DEPTH} levels deep", line)
            saved = self.open_anchors
            anchor = getattr(event, "anchor", None)
            if anchor:
                self.open_anchors = saved | {anchor}
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1
                self.open_anchors = saved

    return Loader


class _Converter:
    """Node tree -> plain Python values, recording lines and every problem on the way."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[str, int] = {"$": 1}
        self.problems: list[Problem] = []

    def run(self, node: yaml.Node, name: str) -> Loaded:
        data = self.value(node, "$")
        if self.problems:
            raise _fail(name, self.problems)
        return Loaded(data, self.lines)

    def value(self, node: yaml.Node, path: str) -> Any:
        import yaml

        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN:
            return self.refuse(node, path)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            out = []
            for i, item in enumerate(node.value):
                self.lines.setdefault(f"{path}[{i}]", item.start_mark.line + 1)
                out.append(self.value(item, f"{path}[{i}]"))
            return out
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: str) -> Any:
        if node.tag in _CONSTRUCTED:
            return self.number(node, path)
        if node.tag in (f"{_Y}str", f"{_Y}timestamp"):
            return node.value  # dates stay strings
        return self.refuse(node, path)

    def number(self, node: yaml.Node, path: str) -> Any:
        """null, bool, int, float; refused: what YAML 1.1 reads as a number the writer did not
        mean (1:30 is 90, 010 is 8), NaN and infinities, integers beyond Python's digit limit."""
        text = str(node.value)
        line = node.start_mark.line + 1
        if node.tag in (f"{_Y}int", f"{_Y}float") and _SURPRISING_NUMBER.match(text):
            self.problems.append(problem(path, line, f"{text} would be read as the number "
                                         f"{self.loader.construct_object(node)!r} (YAML 1.1): "
                                         "write a plain decimal number, or quote it"))
            return None
        try:
            value = self.loader.construct_object(node)
        except ValueError:  # int() of more than 4300 digits
            self.problems.append(problem(path, line, f"the number has {len(text)} digits: "
                                                     "far too large"))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problems.append(problem(path, line, f"{text} is not a finite number"))
            return None
        return value

    def refuse(self, node: yaml.Node, path: str) -> None:
        tag = node.tag.replace(_Y, "!!")
        self.problems.append(problem(path, node.start_mark.line + 1,
                                     f"the tag {tag} is not allowed: only plain YAML values "
                                     "(Python and custom tags are refused for safety)"))

    def mapping(self, node: yaml.MappingNode, path: str) -> dict[str, Any]:
        import yaml

        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == f"{_Y}merge":
                self.problems.append(problem(path, line, "merge keys (<<) are not supported: "
                                                         "write the keys out"))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(problem(path, line, "a key must be a plain name"))
                continue
            key = str(key_node.value)
            child = f"{path}.{key}"
            if key in out:
                self.problems.append(problem(child, line, f"duplicate key {key!r} (first at line "
                                                          f"{self.lines[child]}): YAML would "
                                                          "silently keep the last one"))
                continue
            self.lines[child] = line
            out[key] = self.value(value_node, child)
        return out


@dataclass(frozen=True)
class Node:
    """Where a value sits in the text (offsets), for edits that keep the rest of the file."""

    kind: str  # "map", "seq" or "scalar"
    start: int
    end: int
    column: int
    flow: bool  # written in flow style ({a: 1}, [1, 2])
    text: str = ""  # a scalar's value as written
    entries: tuple[tuple[str, Node], ...] = ()  # a map's (key, value) pairs
    items: tuple[Node, ...] = ()  # a sequence's values


def layout(text: str) -> Node | None:
    """The positions of a document's values (None: empty). Loaded once already, so valid."""
    import yaml

    loader = _loader_class()(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()

    def convert(node: yaml.Node) -> Node:
        start, end = node.start_mark.index, node.end_mark.index
        col = node.start_mark.column
        if isinstance(node, yaml.MappingNode):
            return Node("map", start, end, col, bool(node.flow_style), entries=tuple(
                (str(k.value), convert(v)) for k, v in node.value
                if isinstance(k, yaml.ScalarNode)))
        if isinstance(node, yaml.SequenceNode):
            return Node("seq", start, end, col, bool(node.flow_style),
                        items=tuple(convert(v) for v in node.value))
        return Node("scalar", start, end, col, False, text=str(node.value))

    return None if root is None else convert(root)
