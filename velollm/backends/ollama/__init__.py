"""Ollama (ollama serve): its knobs per version, its running server, targets, logs and client.

BACKEND is imported on first use, so a module of this folder (install.py for `velollm detect`)
can be imported without the whole backend.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BACKEND"]


def __getattr__(name: str) -> Any:
    if name == "BACKEND":
        from velollm.backends.ollama.backend import BACKEND

        return BACKEND
    raise AttributeError(name)
