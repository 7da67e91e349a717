"""vLLM (vllm serve): its knobs, targets, block-based memory model and OpenAI-API client."""

from velollm.backends.vllm.backend import BACKEND

__all__ = ["BACKEND"]
