"""Whether a draft model can draft for a target: the same tokenizer, read from the GGUF headers.

A draft proposes token ids that the target verifies, so both must map ids to the same pieces:
the same tokenizer model, the same token list (compared by a digest of its raw bytes) and the
same BOS/EOS ids. llama.cpp itself only warns on a mismatch and then drafts garbage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from velollm.errors import VelollmError


@dataclass(frozen=True)
class Vocabulary:
    model: str  # tokenizer.ggml.model: "gpt2", "llama", ...
    size: int
    digest: str  # sha256 of the token list's raw bytes
    bos: int | None
    eos: int | None


def vocabulary(path: Path) -> Vocabulary:
    """The tokenizer facts of a GGUF file (headers only; the weights are not read)."""
    from gguf import GGUFReader  # the header parser llama.cpp maintains (gguf-py)

    try:
        reader = GGUFReader(path)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise VelollmError(f"{path} is not a readable GGUF file: {exc}",
                           hint="give the path of a .gguf model file") from None
    fields = reader.fields
    tokens = fields.get("tokenizer.ggml.tokens")
    if tokens is None:
        raise VelollmError(f"{path} has no tokenizer in its GGUF metadata",
                           hint="a draft model needs the target's tokenizer")
    digest = hashlib.sha256()
    for index in tokens.data:
        digest.update(tokens.parts[index].tobytes())
        digest.update(b"\0")

    def scalar(key: str) -> int | None:
        field = fields.get(key)
        return None if field is None else int(field.parts[field.data[0]][0])

    model = fields.get("tokenizer.ggml.model")
    name = bytes(model.parts[model.data[0]]).decode("utf-8", "replace") if model else "?"
    return Vocabulary(name, len(tokens.data), digest.hexdigest(),
                      scalar("tokenizer.ggml.bos_token_id"), scalar("tokenizer.ggml.eos_token_id"))


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
