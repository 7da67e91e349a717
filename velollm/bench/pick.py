"""Which model a benchmark runs when none is named on the command line: chosen the same way on
every run, and said how, so a baseline and the verify that compares with it measure one model."""

from __future__ import annotations

from collections.abc import Sequence

from velollm.backends.wire import ModelTag, ServerClient
from velollm.core import gotypes
from velollm.errors import ConfigError, ServerResponseError

NEWEST = "the most recently modified installed model"


def _installed(name: str, tags: Sequence[ModelTag]) -> bool:
    return any(t.name in (name, f"{name}:latest") for t in tags)


def newest(tags: Sequence[ModelTag]) -> ModelTag:
    """The most recently modified model; the same moment (or none known): by name."""
    return min(tags, key=lambda t: (-(gotypes.parse_time(t.modified_at) or 0.0), t.name))


def pick_model(client: ServerClient, title: str, *, wanted: str | None = None,
               listed: Sequence[str] = ()) -> tuple[str, str]:
    """(model, how it was chosen): `wanted` (verify.model), which must be installed; else the
    first of `listed` (velollm.yaml's models:) that is installed; else the newest."""
    if wanted:
        try:
            client.show(wanted)
        except ServerResponseError as exc:
            if exc.status != 404:
                raise
            raise ConfigError(f"verify.model {wanted} is not installed on the {title} server at "
                              f"{client.base_url}", path="$.verify.model",
                              hint=f"pull it (`ollama pull {wanted}`), or set verify.model to "
                                   "an installed model") from None
        return wanted, "verify.model"
    tags = client.tags()
    if not tags:
        raise ConfigError(f"the {title} server at {client.base_url} has no model installed",
                          hint="pull one with `ollama pull MODEL`, then name it (verify.model "
                               "in velollm.yaml, --model for `velollm benchmark`)")
    for name in listed:
        if _installed(name, tags):
            return name, "the first installed model of velollm.yaml's models:"
    return newest(tags).name, NEWEST
