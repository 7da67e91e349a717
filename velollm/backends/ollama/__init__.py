"""Ollama (ollama serve): its knobs per version, its running server, targets, logs and client."""

from velollm.backends.ollama.backend import BACKEND

__all__ = ["BACKEND"]
