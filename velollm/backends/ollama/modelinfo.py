"""Where the memory model gets each model's metadata: the live server, else the shipped table."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from velollm.core import models as model_meta
from velollm.core.models import ModelInfo
from velollm.errors import ServerResponseError, ServerTimeoutError, ServerUnreachableError


@dataclass
class ModelFacts:
    infos: list[ModelInfo] = field(default_factory=list)
    server_version: str | None = None
    reachable: bool = False
    notes: list[str] = field(default_factory=list)


def gather(names: Iterable[str], base_url: str | None) -> ModelFacts:
    """Metadata for each model; `base_url` None means plan offline (another machine's hardware)."""
    facts = ModelFacts()
    wanted = list(dict.fromkeys(names))
    live: dict[str, ModelInfo] = {}
    if base_url is not None:
        live = _from_server(wanted, base_url, facts)
    for name in wanted:
        info = live.get(name) or model_meta.offline(name)
        if info is None:
            facts.notes.append(f"{name}: no metadata (not on the server and not in velollm's "
                               "table), so it is not sized; pull it and plan again")
            continue
        facts.infos.append(info)
    return facts


def _from_server(wanted: list[str], base_url: str, facts: ModelFacts) -> dict[str, ModelInfo]:
    from velollm.backends.ollama.client import OllamaClient
    from velollm.io import deadlines

    client = OllamaClient(base_url, connect_timeout=1.0, retries=0,
                          read_timeout=deadlines.request_s(10.0))  # plan --timeout
    found: dict[str, ModelInfo] = {}
    try:
        facts.server_version = client.version()
        facts.reachable = True
        tags = {t.name: t for t in client.tags()}
        for name in wanted:
            tag = tags.get(name) or tags.get(f"{name}:latest")
            if tag is None:
                facts.notes.append(f"{name} is not pulled on {base_url}: sized from velollm's "
                                   "table")
                continue
            show = client.show(tag.name)
            wrong = metadata_problem(show.model_info, show.details or tag.details)
            if wrong is not None:
                raise ServerResponseError(
                    f"Ollama at {base_url} sent metadata for {name} that cannot be right "
                    f"({wrong})", status=200, hint="check the server and its model; or plan "
                    "from velollm's own table: `velollm detect --json > hw.json`, then "
                    "`velollm plan --hardware hw.json`")
            found[name] = model_meta.from_show(
                {"model_info": show.model_info, "details": show.details},
                {"name": name, "size": tag.size, "details": tag.details})
    except ServerUnreachableError as exc:
        # Nothing listens there: plan offline. A server that is there but answers late or
        # wrongly is an error (ServerTimeoutError, ServerResponseError): its facts cannot be
        # trusted, and planning as if it were absent would hide that.
        if isinstance(exc, ServerTimeoutError):
            raise
        facts.notes.append(f"{exc.message}: model sizes come from velollm's built-in table")
    finally:
        client.close()
    return found


# The model_info numbers the memory model reads, with bounds far above any real model: a value
# outside them (or not a whole number) is a server that lies, and sizing from it would give
# nonsense or exhaust memory (a block_count of 10**12 builds a tuple per layer).
_BOUNDS = {"block_count": 10_000, "embedding_length": 1_000_000, "context_length": 100_000_000,
           "attention.head_count": 100_000, "attention.head_count_kv": 100_000,
           "attention.key_length": 100_000, "attention.value_length": 100_000,
           "attention.sliding_window": 100_000_000, "vocab_size": 100_000_000}
_PER_LAYER = ("attention.head_count", "attention.head_count_kv")


def metadata_problem(info: dict[str, Any], details: dict[str, Any]) -> str | None:
    """What in /api/show's model_info or details cannot be real; None when all can."""
    arch = info.get("general.architecture", "llama")
    if not isinstance(arch, str) or not re.fullmatch(r"[\w.-]{1,64}", arch):
        return f"general.architecture {_short(arch)}"
    checks: list[tuple[str, int]] = [(f"{arch}.{k}", b) for k, b in _BOUNDS.items()]
    for key, bound in [*checks, ("general.parameter_count", 10**14)]:
        value = info.get(key)
        values = value if isinstance(value, list) and key.endswith(_PER_LAYER) else [value]
        if len(values) > _BOUNDS["block_count"] or not all(
                v is None or _whole(v, bound) for v in values):
            return f"{key} {_short(value)}"
    for key in ("parameter_size", "quantization_level"):
        if not isinstance(details.get(key), (str, type(None))):
            return f"details.{key} {_short(details.get(key))}"
    return None


def _whole(value: object, bound: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= bound


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
