"""llama.cpp (llama-server): its knobs per build, targets, GGUF metadata and recommendation."""

from velollm.backends.llamacpp.backend import BACKEND

__all__ = ["BACKEND"]
