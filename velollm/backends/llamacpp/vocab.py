"""Whether a draft model can draft for a target: the same tokenizer, read from the GGUF headers.

A draft proposes token ids that the target verifies, so both must map ids to the same pieces:
the same tokenizer model, the same token list (compared by a digest of its raw bytes) and the
same BOS/EOS ids. llama.cpp itself only warns on a mismatch and then drafts garbage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from velollm.backends.llamacpp import modelinfo


@dataclass(frozen=True)
class Vocabulary:
    model: str  # tokenizer.ggml.model: "gpt2", "llama", ...
    size: int
    digest: str  # sha256 of the token list's raw bytes
    bos: int | None
    eos: int | None


def vocabulary(path: Path) -> Vocabulary:
    """The tokenizer facts of a GGUF file (headers only; the weights are not read)."""
    return Vocabulary(*modelinfo.tokenizer_facts(path))


def mismatch(target: Vocabulary, draft: Vocabulary) -> str | None:
    """Why `draft` cannot draft for `target` (None: it can)."""
    if target.model != draft.model:
        return f"its tokenizer is {draft.model!r}, the target's {target.model!r}"
    if target.size != draft.size:
        return f"its vocabulary has {draft.size} tokens, the target's {target.size}"
    if target.digest != draft.digest:
        return "its token list differs from the target's"
    if (target.bos, target.eos) != (draft.bos, draft.eos):
        return (f"its BOS/EOS ids are {draft.bos}/{draft.eos}, the target's "
                f"{target.bos}/{target.eos}")
    return None
