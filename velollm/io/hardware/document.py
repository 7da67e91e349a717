"""Reading a hardware document (`velollm plan --hardware FILE`): bounded read, strict JSON, the
schema check (which also bounds every number and string), then the value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from velollm.core.hardware import Hardware
from velollm.errors import ConfigError, SchemaValidationError

SCHEMA_FILE = "hardware.schema.json"
HINT = "create it with `velollm detect --json > hardware.json`"
MAX_BYTES = 1024 * 1024  # a detect document is a few KiB
MAX_DEPTH = 8  # the schema's deepest value (gpus[].pcie.width) is 4 levels down


def load_document(path: Path) -> Hardware:
    """The Hardware that the `velollm detect --json` document at `path` describes."""
    from velollm.io.inputfile import load_json, read_capped

    what = "a hardware document"
    raw = read_capped(path, max_bytes=MAX_BYTES, what=what, hint=HINT)
    data = load_json(raw, path, what=what, max_depth=MAX_DEPTH, hint=HINT)
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a hardware document (a JSON object)", hint=HINT,
                          path=str(path))
    try:
        return read_document(data)
    except SchemaValidationError as exc:  # each problem, and the summary, name the file
        named = SchemaValidationError(f"{path} is not a hardware document: "
                                      f"{len(exc.problems)} problem(s)",
                                      [{"file": str(path), **p} for p in exc.problems])
        named.hint = HINT
        raise named from None


def read_document(data: dict[str, Any]) -> Hardware:
    """The Hardware a `velollm detect --json` document describes; schema problems raise."""
    validate_document(data)
    return Hardware.from_dict(data)


def validate_document(data: Any) -> None:
    """Raise SchemaValidationError listing every problem of a hardware document."""
    from velollm.io.schemas import document_problems
    from velollm.resources import load_schema

    problems = document_problems(load_schema(SCHEMA_FILE), data)
    if problems:
        raise SchemaValidationError(
            f"the hardware document does not match {SCHEMA_FILE} ({len(problems)} problem(s))",
            problems)
