"""The one table of backends, by the name `backend:` takes in velollm.yaml.

A new backend is a folder beside ollama/ whose package exports BACKEND (see base.Backend), plus one
line here.
"""

from __future__ import annotations

from collections.abc import Mapping

from velollm.backends import llamacpp, ollama, vllm
from velollm.backends.base import Backend
from velollm.errors import ConfigError

BACKENDS: Mapping[str, Backend] = {
    "llamacpp": llamacpp.BACKEND,
    "ollama": ollama.BACKEND,
    "vllm": vllm.BACKEND,
}
DEFAULT = "ollama"

__all__ = ["BACKENDS", "DEFAULT", "Backend", "get_backend"]


def get_backend(name: str | None) -> Backend:
    """The backend called `name` (None: the default); a clear error naming the known ones."""
    key = name or DEFAULT
    if key not in BACKENDS:
        raise ConfigError(f"unknown backend {key!r}",
                          hint=f"velollm supports: {', '.join(sorted(BACKENDS))}")
    return BACKENDS[key]
