"""Facts about the server being configured, handed to the pure core as values.

A backend (velollm/backends/<name>/) turns what it knows about the detected server version (its knob
catalogue, version history, traps) into a `Capabilities`; the optimizer and the effect check read
only this, so the core never imports a backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Capabilities:
    """What one server version reads and does."""

    backend: str  # the name in velollm.yaml: "ollama"
    title: str  # the name users know: "Ollama"
    version: str | None  # None: unknown; the backend then assumes its newest version
    known: frozenset[str]  # server setting keys in the catalogue
    # key -> why this version does not read it (settings it ignores, and names that are no knob)
    not_read: Mapping[str, str] = field(default_factory=dict)
    # architectures whose flash attention this version drops (their KV cache stays f16)
    flash_attention_dropped: frozenset[str] = frozenset()
    # architectures the server runs with one slot whatever the parallel setting says
    single_slot: frozenset[str] = frozenset()
    # an unset context length is sized by the server from the VRAM (Ollama >= 0.15.5)
    sizes_context_by_vram: bool = False
    # flash attention is on unless switched off, on the CPU too, so a quantized KV cache works
    # there (Ollama >= 0.30 runs llama-server with --flash-attn auto; llama-server itself)
    flash_attention_on_cpu: bool = False
    # an unset per-model batch size is the server's own choice by context (Ollama >= 0.30):
    # writing num_batch turns that choice off
    picks_batch_size: bool = False

    def reads(self, key: str) -> bool:
        return key in self.known and key not in self.not_read

    def why_not_read(self, key: str) -> str:
        """A sentence saying why this version ignores `key` ("" when it reads it)."""
        if key in self.not_read:
            return self.not_read[key]
        if key not in self.known:
            return f"{key} is not {_article(self.title)} {self.title} server variable"
        return ""


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
