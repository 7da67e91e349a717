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
    from velollm.io.schemas import document_problems
    from velollm.resources import load_schema

    problems = document_problems(load_schema(SCHEMA_FILE), data)
    if problems:
        raise SchemaValidationError(
            f"the hardware document does not match {SCHEMA_FILE} ({len(problems)} problem(s))",
            problems)
