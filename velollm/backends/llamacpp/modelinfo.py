"""Model metadata for the memory model, read from the GGUF file itself (the gguf library maps the
file and parses its header and tensor table; the weights are never read), so a plan needs no
running server. The one importer of gguf.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from velollm.core.models import ModelInfo, from_metadata
from velollm.errors import ConfigError

# Arrays read whole (per-layer values); other arrays (the vocabulary) are only counted.
_PER_LAYER = ("attention.head_count", "attention.head_count_kv")
_HINT = "give the path of a .gguf model file under server.models"


def _field_value(field: Any, key: str) -> Any:
    from gguf import GGUFValueType

    if field.types and field.types[0] == GGUFValueType.ARRAY:
        if key.endswith(_PER_LAYER):
            return [int(field.parts[i][0]) for i in field.data]
        return len(field.data)  # e.g. tokenizer.ggml.tokens: only its length is needed
    return field.contents()


def read_metadata(path: Path) -> tuple[dict[str, Any], int | None, str | None]:
    """(metadata key -> value, parameter count, file type name) of a GGUF file."""
    from gguf import GGUFReader, LlamaFileType

    if not path.is_file():
        raise ConfigError(f"model file {path} not found", hint=_HINT)
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ConfigError(f"{path} is not a GGUF file (no GGUF magic at its start)",
                              hint=_HINT)
    try:
        reader = GGUFReader(path, "r")
        info = {k: _field_value(f, k) for k, f in reader.fields.items()
                if not k.startswith("GGUF.")}
        params = sum(int(t.n_elements) for t in reader.tensors) or None
    except (ValueError, IndexError, KeyError, OSError, struct.error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a complete GGUF file ({exc.__class__.__name__}: "
                          f"{exc}); is it still downloading or truncated?",
                          hint="download the model again") from None
    file_type = info.get("general.file_type")
    try:
        quant = LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_") \
            if file_type is not None else None
    except ValueError:
        quant = None
    return info, params, quant


def from_gguf(path: Path, name: str | None = None) -> ModelInfo:
    """A ModelInfo from a GGUF file (`name`: the alias the server answers to)."""
    info, params, quant = read_metadata(path)
    if params and not info.get("general.parameter_count"):
        info["general.parameter_count"] = params
    if "tokenizer.ggml.tokens" in info:  # the count, as from_metadata expects a list's length
        info["tokenizer.ggml.tokens"] = [None] * int(info["tokenizer.ggml.tokens"])
    return from_metadata(name or path.stem, info, os.path.getsize(path),
                         details={"quantization_level": quant,
                                  "parameter_size": info.get("general.size_label")})


def model_paths(models: object) -> list[tuple[Path, str]]:
    """(path, name) of each entry of server.models; the name is its alias, else the file stem."""
    out = []
    for entry in models if isinstance(models, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("path"), str):
            path = Path(os.path.expanduser(entry["path"]))
            alias = entry.get("alias")
            out.append((path, alias if isinstance(alias, str) and alias else path.stem))
    return out


def gather(entries: Iterable[tuple[Path, str]]) -> tuple[list[ModelInfo], list[str]]:
    """ModelInfo per model file; a file that cannot be read is a note, not a failed plan."""
    infos, notes = [], []
    for path, name in entries:
        try:
            infos.append(from_gguf(path, name))
        except ConfigError as exc:
            notes.append(f"{name}: {exc.message}; planned without its size")
    return infos, notes
