"""The one importer of jsonschema: validators for the shipped schemas/ (Draft 2020-12).

jsonschema is heavy (~40 ms): it is imported only when a document is validated, never at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

def validator(schema: Mapping[str, Any]) -> Validator:
    """Draft 2020-12, except that "integer" means an int: the draft lets 4096.0 through, which
    a server reading an integer (Go's strconv.Atoi, Ollama's Modelfile parser) refuses."""
    from jsonschema import Draft202012Validator, validators

    strict = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool))
    cls = validators.extend(Draft202012Validator, type_checker=strict)  # type: ignore[no-untyped-call]
    made: Validator = cls(schema)
    return made


def schema_errors(schema: Mapping[str, Any], data: Any) -> list[ValidationError]:
    """Every error of `data` against `schema`; a document that passed before with the same
    schema and validator is not checked again (io/validmemo.py: jsonschema is not imported)."""
    from velollm.io import validmemo

    marker = validmemo.key(schema, data)
    if validmemo.known_valid(marker):
        return []
    errors = list(validator(schema).iter_errors(data))
    if not errors:
        validmemo.remember_valid(marker)
    return errors


def best_match(errors: Iterable[ValidationError]) -> ValidationError:
    from jsonschema.exceptions import best_match as pick

    found: ValidationError | None = pick(errors)
    assert found is not None  # callers pass at least one error
    return found


def document_problems(schema: Mapping[str, Any], data: Any) -> list[dict[str, str]]:
    """Every problem of `data`, as {path: "$.a[0].b", message}, in path order."""
    errors = sorted(schema_errors(schema, data), key=lambda e: list(map(str, e.path)))
    return [{"path": "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.path),
             "message": _shortened(e.message)} for e in errors]


def _shortened(message: str, keep: int = 100) -> str:
    """jsonschema quotes the whole offending value (a 400-digit number, a 100 KiB string) before
    what is wrong with it: keep both ends."""
    if len(message) <= 3 * keep:
        return message
    return f"{message[:keep]} ...({len(message) - 2 * keep} characters)... {message[-keep:]}"
