"""The one table of backends, by the name `backend:` takes in velollm.yaml.

A new backend is a folder beside ollama/ whose package exports BACKEND (see base.Backend), plus one
line in NAMES (and one in the type-checked table below).

A backend's package is imported when it is first asked for, so a command that needs one
backend (or none: `velollm detect` probes only Ollama's install) does not pay for the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, cast

from velollm.errors import ConfigError

NAMES = ("llamacpp", "ollama", "vllm")
DEFAULT = "ollama"

if TYPE_CHECKING:  # mypy checks every backend against the protocol here
    from velollm.backends import llamacpp, ollama, vllm
    from velollm.backends.base import Backend

    _CHECKED: Mapping[str, Backend] = {
        "llamacpp": llamacpp.BACKEND,
        "ollama": ollama.BACKEND,
        "vllm": vllm.BACKEND,
    }


class _Table(MutableMapping[str, "Backend"]):
    """NAMES, each imported on first use; a backend registered at run time (a test's toy) is
    kept beside them."""

    def __init__(self) -> None:
        self._extra: dict[str, Backend] = {}

    def __getitem__(self, name: str) -> Backend:
        if name in self._extra:
            return self._extra[name]
        if name not in NAMES:
            raise KeyError(name)
        return cast("Backend", importlib.import_module(f"velollm.backends.{name}").BACKEND)

    def __setitem__(self, name: str, backend: Backend) -> None:
        self._extra[name] = backend

    def __delitem__(self, name: str) -> None:
        del self._extra[name]

    def __iter__(self) -> Iterator[str]:
        return iter((*NAMES, *self._extra))

    def __len__(self) -> int:
        return len(NAMES) + len(self._extra)


BACKENDS: Mapping[str, Backend] = _Table()

__all__ = ["BACKENDS", "DEFAULT", "Backend", "get_backend"]


def __getattr__(name: str) -> Any:
    """`Backend` on first use (PEP 562): `velollm detect` imports an install probe of a backend's
    folder, and the protocol's module (~7 ms) is not needed there."""
    if name == "Backend":
        from velollm.backends.base import Backend

        return Backend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_backend(name: str | None) -> Backend:
    """The backend called `name` (None: the default); a clear error naming the known ones."""
    key = name or DEFAULT
    if key not in BACKENDS:
        raise ConfigError(f"unknown backend {key!r}",
                          hint=f"velollm supports: {', '.join(sorted(BACKENDS))}")
    return BACKENDS[key]
