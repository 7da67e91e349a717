"""Where the memory model gets each model's metadata: the live server, else the shipped table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from velollm.core import models as model_meta
from velollm.core.models import ModelInfo
from velollm.errors import VelollmError


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
            found[name] = model_meta.from_show(
                {"model_info": show.model_info, "details": show.details},
                {"name": name, "size": tag.size, "details": tag.details})
    except VelollmError as exc:
        facts.notes.append(f"{exc.message}: model sizes come from velollm's built-in table")
    finally:
        client.close()
    return found
