"""Where velollm.yaml's `server:` mapping and a model's `models:` entry sit in the text, for pins
that change only their values (config/pins.py)."""

from __future__ import annotations

from dataclasses import dataclass

from velollm.config.yamlload import Node, layout


@dataclass(frozen=True)
class Section:
    """Where a mapping's entries sit in the text, for an edit that keeps the rest."""

    present: bool
    block: bool  # written in block style (flow style `{a: 1}` cannot take a new line)
    indent: int  # column of its keys
    values: dict[str, tuple[int, int]]  # key -> (start, end) offsets of its scalar value
    nested: frozenset[str]  # keys whose value is a mapping or a list (not replaced here)
    end: int  # offset where a new entry line goes (after its last entry)


def section_spans(text: str, name: str) -> Section:
    """The top-level mapping `name` of a velollm.yaml (already loaded once, so it is valid)."""
    value = top_level(text, name)
    if value is None:
        return Section(False, True, 2, {}, frozenset(), len(text))
    return mapping_spans(text, value)


def top_level(text: str, name: str) -> Node | None:
    root = layout(text)
    if root is None or root.kind != "map":
        return None
    return next((value for key, value in root.entries if key == name), None)


def mapping_spans(text: str, value: Node) -> Section:
    if value.kind != "map" or not value.entries:
        return Section(True, False, 2, {}, frozenset(), value.end)
    spans = {k: (v.start, v.end) for k, v in value.entries if v.kind == "scalar"}
    nested = frozenset(k for k, v in value.entries if v.kind != "scalar")
    return Section(True, not value.flow, value.column, spans, nested, line_after(text, value))


def line_after(text: str, node: Node) -> int:
    """The offset of the line after `node`'s last value (a block list ends at the next key)."""
    last = node.end
    while last > 0 and text[last - 1] in " \n":
        last -= 1
    end = text.find("\n", last)
    return len(text) if end < 0 else end + 1


def same_model(a: str, b: str) -> bool:
    """Ollama's names: `tiny` is `tiny:latest`."""
    def tagged(name: str) -> str:
        return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"

    return a == b or tagged(a) == tagged(b)


def model_entry(models: Node, name: str) -> Node | None:
    """The entry of `models:` (a list of mappings with `name:`) for the model `name`."""
    for item in models.items:
        named = dict(item.entries).get("name") if item.kind == "map" else None
        if named is not None and named.kind == "scalar" and same_model(named.text, name):
            return item
    return None
