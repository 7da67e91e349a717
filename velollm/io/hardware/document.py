"""Reading a hardware document (`velollm plan --hardware FILE`): the schema check, then the value."""

from __future__ import annotations

from typing import Any

from velollm.core.hardware import Hardware
from velollm.errors import SchemaValidationError

SCHEMA_FILE = "hardware.schema.json"


def read_document(data: dict[str, Any]) -> Hardware:
    """The Hardware a `velollm detect --json` document describes; schema problems raise."""
    validate_document(data)
    return Hardware.from_dict(data)


def validate_document(data: Any) -> None:
    """Raise SchemaValidationError listing every problem of a hardware document."""
    from jsonschema import Draft202012Validator  # heavy: only when a document is read

    from velollm.resources import load_schema

    validator = Draft202012Validator(load_schema(SCHEMA_FILE))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    if errors:
        problems = [{"path": "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                           for p in e.path),
                     "message": e.message} for e in errors]
        raise SchemaValidationError(
            f"the hardware document does not match {SCHEMA_FILE} ({len(problems)} problem(s))",
            problems)
