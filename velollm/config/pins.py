"""Write measured winners into velollm.yaml as pins, keeping everything else of the file.

The file is the user's (often in a dotfiles repository, with comments): only the values of the
pinned keys change, a missing key gets one new line in the section, and the result must load
and validate as velollm.yaml with exactly the pinned values before it replaces the original
(atomically, the original kept as a backup beside it).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from velollm.config.yamlload import load_text
from velollm.config.yamlspans import (
    Section,
    line_after,
    mapping_spans,
    model_entry,
    same_model,
    section_spans,
    top_level,
)
from velollm.config.yamltext import decode, read_bytes
from velollm.errors import ConfigError


def pinned_text(text: str, pins: Mapping[str, object], section: str = "server") -> str:
    """`text` with section.<key> = value for each pin (pure; raises ConfigError when it cannot)."""
    out = _edited(text, section_spans(text, section), pins, section, f"{section}:\n")
    data = load_text(out, "the pinned velollm.yaml").data
    _read_back((data.get(section) or {}) if isinstance(data, dict) else {}, pins, section)
    return out


def pinned_model_text(text: str, model: str, params: Mapping[str, object]) -> str:
    """`text` with the parameters in the `models:` entry of `model` (a new entry at the end of
    `models:`, or a new `models:`, when there is none)."""
    where = f"models[{model}]"
    models = top_level(text, "models")
    entry = None if models is None else model_entry(models, model)
    if entry is not None:
        out = _edited(text, mapping_spans(text, entry), params, where, "")
    elif models is not None and (models.kind != "seq" or models.flow):
        raise ConfigError("`models:` is not a block list (one `- name: ...` per line); velollm "
                          "adds a model's pins only to one", hint="write `models:` as a block "
                                                                  "list, then run again")
    else:
        dash = models.column if models is not None and models.items else 2
        block = "".join([f"{' ' * dash}- name: {_literal(model)}\n",
                         *(f"{' ' * (dash + 2)}{k}: {_literal(v)}\n" for k, v in params.items())])
        if models is None:
            out = text + ("" if text.endswith("\n") or not text else "\n") + "models:\n" + block
        else:
            at = line_after(text, models) if models.items else len(text)
            out = text[:at] + ("" if text[:at].endswith("\n") or not at else "\n") + block + \
                text[at:]
    data = load_text(out, "the pinned velollm.yaml").data
    items = (data.get("models") or []) if isinstance(data, dict) else []
    got = next((m for m in items if isinstance(m, dict) and
                same_model(str(m.get("name")), model)), {})
    _read_back(got, params, where)
    return out


def _edited(text: str, spans: Section, pins: Mapping[str, object], where: str,
            header: str) -> str:
    if spans.present and not spans.block:
        raise ConfigError(f"`{where}:` is written in flow style or empty ({{...}}); velollm "
                          "adds pins only to a block mapping",
                          hint=f"write `{where}:` with one key per line, then run again")
    nested = sorted(set(pins) & spans.nested)
    if nested:
        raise ConfigError(f"{where}.{nested[0]} holds a mapping or a list; velollm does not "
                          "replace it with a pin", hint="edit that key yourself")
    edits: list[tuple[int, int, str]] = []
    new_lines = []
    for key, value in pins.items():
        literal = _literal(value)
        if key in spans.values:
            start, end = spans.values[key]
            edits.append((start, end, literal))
        else:
            new_lines.append(f"{' ' * spans.indent}{key}: {literal}\n")
    out = text
    for start, end, literal in sorted(edits, reverse=True):
        out = out[:start] + literal + out[end:]
    if new_lines:
        shift = sum(len(lit) - (e - s) for s, e, lit in edits if s < spans.end)
        at = spans.end + shift
        if not spans.present:
            out = out + ("" if out.endswith("\n") or not out else "\n") + header
            at = len(out)
        elif at > 0 and not out[:at].endswith("\n"):
            out, at = out[:at] + "\n" + out[at:], at + 1
        out = out[:at] + "".join(new_lines) + out[at:]
    return out


def _read_back(got: Mapping[str, object], pins: Mapping[str, object], where: str) -> None:
    wrong = [k for k, v in pins.items() if got.get(k) != v]
    if wrong:  # never write a file that does not say what was measured
        raise ConfigError(f"pinning {where}.{wrong[0]} would not read back as "
                          f"{pins[wrong[0]]!r}", hint="edit velollm.yaml yourself")


def write_pins(path: Path, pins: Mapping[str, object], *, check: bool = True,
               models: Mapping[str, Mapping[str, object]] | None = None) -> Path:
    """Pin the values into the file at `path` (`pins` under server:, `models` under the
    models: entry of each named model); returns the backup of the original."""
    from velollm.config.check import check as check_config
    from velollm.errors import SchemaValidationError
    from velollm.io.atomic import atomic_write

    text = decode(read_bytes(path), str(path))
    new = pinned_text(text, pins)
    for model, params in (models or {}).items():
        new = pinned_model_text(new, model, params)
    if check:  # the whole file still validates as velollm.yaml (schema, backend, keys)
        problems = check_config(load_text(new, str(path)), "config", path.parent)
        if problems:
            raise SchemaValidationError(f"{path} would not validate with these pins; it is "
                                        "unchanged", problems)
    backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
    shutil.copy2(path, backup)
    atomic_write(path, new.encode("utf-8"))
    return backup


def _literal(value: object) -> str:
    """A YAML scalar for a pin: numbers and booleans bare, strings quoted (JSON is YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)
