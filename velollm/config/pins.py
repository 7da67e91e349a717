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

from velollm.config.yamlload import load_text, section_spans
from velollm.config.yamltext import decode, read_bytes
from velollm.errors import ConfigError


def pinned_text(text: str, pins: Mapping[str, object], section: str = "server") -> str:
    """`text` with section.<key> = value for each pin (pure; raises ConfigError when it cannot)."""
    spans = section_spans(text, section)
    if spans.present and not spans.block:
        raise ConfigError(f"`{section}:` is written in flow style or empty ({{...}}); velollm "
                          "adds pins only to a block mapping",
                          hint=f"write `{section}:` with one key per line, then run again")
    nested = sorted(set(pins) & spans.nested)
    if nested:
        raise ConfigError(f"{section}.{nested[0]} holds a mapping or a list; velollm does not "
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
            out = out + ("" if out.endswith("\n") or not out else "\n") + f"{section}:\n"
            at = len(out)
        elif at > 0 and not out[:at].endswith("\n"):
            out, at = out[:at] + "\n" + out[at:], at + 1
        out = out[:at] + "".join(new_lines) + out[at:]
    data = load_text(out, "the pinned velollm.yaml").data
    got = (data.get(section) or {}) if isinstance(data, dict) else {}
    wrong = [k for k, v in pins.items() if got.get(k) != v]
    if wrong:  # never write a file that does not say what was measured
        raise ConfigError(f"pinning {section}.{wrong[0]} would not read back as "
                          f"{pins[wrong[0]]!r}", hint="edit velollm.yaml yourself")
    return out


def write_pins(path: Path, pins: Mapping[str, object], *, check: bool = True) -> Path:
    """Pin the values into the file at `path`; returns the backup of the original."""
    from velollm.config.check import check as check_config
    from velollm.errors import SchemaValidationError
    from velollm.io.atomic import atomic_write

    text = decode(read_bytes(path), str(path))
    new = pinned_text(text, pins)
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
