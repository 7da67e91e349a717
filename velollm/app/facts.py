"""What plan learns about the world, gathered in one place and frozen, for the pure core.

The hardware comes first (detected here, or another machine's `velollm detect --json` document),
because velollm.yaml's overrides match on it and so decide the models to ask about; the rest
(the server's version and what it reads, model metadata, what the running server has now) is then
asked once through the backend. Nothing after gather_facts asks the server again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from velollm.backends.base import Backend, ModelFacts, Observed
    from velollm.core.facts import Capabilities
    from velollm.core.hardware import Hardware

@dataclass(frozen=True)
class Facts:
    hardware: Hardware
    version: str | None  # the running server's version, else the installed binary's; None: unknown
    caps: Capabilities  # what that version reads
    models: ModelFacts
    base_url: str | None  # the running server; None when planning for another machine
    now: Mapping[str, Observed]  # setting name -> what the running server has now

    @property
    def elsewhere(self) -> bool:
        """Planning for another machine (--hardware FILE): nothing on this one is asked."""
        return self.base_url is None


def load_hardware(path: Path | None) -> Hardware:
    """This machine, detected; or the machine a `velollm detect --json` document describes."""
    if path is not None:  # a document: the probes (and what they import) are not needed
        from velollm.io.hardware.document import load_document

        return load_document(path)
    from velollm.io.hardware.detector import detect

    return detect()


def gather_facts(backend: Backend, hardware: Hardware, models: Iterable[str], *,
                 host: str | None, elsewhere: bool) -> Facts:
    """Ask `backend` about its server at `host` (none when `elsewhere`) and the named models."""
    if elsewhere and host is not None:
        backend.base_url(host)  # not contacted, but a bad --host is still refused, not ignored
    base_url = None if elsewhere else backend.base_url(host)
    found = backend.model_facts(models, base_url)
    version = found.server_version or backend.installed_version(hardware)
    now = {} if base_url is None else backend.settings_now(base_url)
    return Facts(hardware=hardware, version=version, caps=backend.capabilities(version),
                 models=found, base_url=base_url, now=now)
