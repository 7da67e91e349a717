"""Model metadata for the memory model, read from the GGUF file itself (the gguf library maps the
file and parses its header and tensor table; the weights are never read), so a plan needs no
running server. The one importer of gguf.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from velollm.core.models import ModelInfo, from_metadata
from velollm.core.tensors import summarize
from velollm.errors import ConfigError

# Arrays read whole (per-layer values); other arrays (the vocabulary) are only counted.
_PER_LAYER = ("attention.head_count", "attention.head_count_kv", "feed_forward_length",
              "attention.sliding_window_pattern")
# <arch>.<key> -> the ModelInfo field the llama.cpp memory model reads (core/llama_kv.py).
_EXTRA = {"expert_count": "expert_count", "expert_used_count": "expert_used_count",
          "expert_feed_forward_length": "expert_feed_forward_length",
          "ssm.conv_kernel": "ssm_conv_kernel", "ssm.inner_size": "ssm_inner_size",
          "ssm.state_size": "ssm_state_size", "ssm.group_count": "ssm_group_count",
          "shortconv.l_cache": "shortconv_l_cache"}
_HINT = "give the path of a .gguf model file under server.models"


def _field_value(field: Any, key: str) -> Any:
    from gguf import GGUFValueType

    if field.types and field.types[0] == GGUFValueType.ARRAY:
        if key.endswith(_PER_LAYER):
            return [int(field.parts[i][0]) for i in field.data]
        return len(field.data)  # e.g. tokenizer.ggml.tokens: only its length is needed
    return field.contents()


def _tensor_bytes(tensors: Any, layers: int) -> dict[str, Any]:
    """Bytes per repeating layer (blk.N.*), of which MoE experts, the input (token embedding)
    and the output head: the weights the memory model places per device (core/tensors.py)."""
    return summarize(((str(t.name), int(t.n_bytes)) for t in tensors), layers)


def read_metadata(path: Path) -> tuple[dict[str, Any], int | None, str | None]:
    """(metadata key -> value, parameter count, file type name) of a GGUF file; the key
    "velollm.tensors" holds the tensor table's byte counts.

    gguf-py builds a Python object per element of the header's arrays (a 49k-token vocabulary:
    ~1 M numpy views, seconds), so what it finds is kept in the user's cache, keyed by the file's
    path, size and modification time: a plan reads each model file's header once."""
    cached = _cached(path)
    if cached is not None:
        return cached
    found = _read_metadata(path)
    _keep(path, found)
    return found


_CACHE_FORMAT = 2  # 2: with velollm.tokenizer


def _cache_file(path: Path) -> Path:
    import hashlib

    from velollm.io.xdg import cache_dir

    key = hashlib.sha256(os.path.realpath(path).encode("utf-8", "surrogateescape")).hexdigest()
    return cache_dir() / "gguf" / f"{key[:32]}.json"


def _stamp(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, _CACHE_FORMAT]


def _cached(path: Path) -> tuple[dict[str, Any], int | None, str | None] | None:
    import json

    stamp = _stamp(path)
    try:
        data = json.loads(_cache_file(path).read_bytes()[:16 * 1024 * 1024])
        if stamp is None or data.get("stamp") != stamp:
            return None
        info = dict(data["info"])
        tensors = info.get("velollm.tensors")
        if isinstance(tensors, dict):  # JSON has no tuples: give back what the reader made
            info["velollm.tensors"] = {k: tuple(v) if isinstance(v, list) else v
                                       for k, v in tensors.items()}
        return info, data["params"], data["quant"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no entry, or a damaged one: read the file again


def _keep(path: Path, found: tuple[dict[str, Any], int | None, str | None]) -> None:
    import json

    from velollm.errors import VelollmError
    from velollm.io.atomic import atomic_write

    stamp = _stamp(path)
    if stamp is None:
        return
    doc = {"stamp": stamp, "path": os.path.realpath(path), "info": found[0],
           "params": found[1], "quant": found[2]}
    with contextlib.suppress(OSError, VelollmError, TypeError, ValueError):  # only a cache
        atomic_write(_cache_file(path), json.dumps(doc).encode("utf-8"), 0o600)


def _read_metadata(path: Path) -> tuple[dict[str, Any], int | None, str | None]:
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
        arch = info.get("general.architecture")
        info["velollm.tokenizer"] = _tokenizer(reader.fields)
        info["velollm.tensors"] = _tensor_bytes(reader.tensors,
                                                int(info.get(f"{arch}.block_count") or 0))
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
    base = from_metadata(name or path.stem, info, os.path.getsize(path),
                         details={"quantization_level": quant,
                                  "parameter_size": info.get("general.size_label")})
    return replace(base, **_llama_facts(info, base.architecture, base.block_count))


def _llama_facts(info: Mapping[str, Any], arch: str, layers: int) -> dict[str, Any]:
    """The optional ModelInfo facts of the llama.cpp memory model, where the file has them."""
    facts: dict[str, Any] = {field: int(info[f"{arch}.{key}"]) for key, field in _EXTRA.items()
                             if isinstance(info.get(f"{arch}.{key}"), int)}
    ff = info.get(f"{arch}.feed_forward_length")
    if isinstance(ff, list) and ff:
        facts["feed_forward_length"] = max(ff)
    elif isinstance(ff, int):
        facts["feed_forward_length"] = ff
    pattern = info.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, list) and len(pattern) >= layers > 0:
        facts["swa_layers"] = tuple(bool(v) for v in pattern[:layers])
    tensors = info.get("velollm.tensors")
    if isinstance(tensors, dict) and any(tensors["layer_bytes"]):
        facts.update(tensors)
    return facts


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


def tokenizer_facts(path: Path) -> tuple[str, int, str, int | None, int | None]:
    """(tokenizer model, vocabulary size, sha256 of the token list's raw bytes, BOS id, EOS id)
    of a GGUF file, for the draft/target check (backends/llamacpp/vocab.py); read with the rest
    of the header, so it is cached with it."""
    found = read_metadata(path)[0].get("velollm.tokenizer")
    if not isinstance(found, (list, tuple)) or len(found) != 5 or not found[2]:
        raise ConfigError(f"{path} has no tokenizer in its GGUF metadata",
                          hint="a draft model needs the target's tokenizer")
    name, size, digest, bos, eos = found
    return str(name), int(size), str(digest), bos, eos


def _tokenizer(fields: Mapping[str, Any]) -> list[object]:
    """[model, size, digest of the token list's raw bytes, BOS id, EOS id] ("" digest: none)."""
    import hashlib

    tokens = fields.get("tokenizer.ggml.tokens")
    digest = hashlib.sha256()
    if tokens is not None:
        for index in tokens.data:
            digest.update(tokens.parts[index].tobytes())
            digest.update(b"\0")

    def scalar(key: str) -> int | None:
        field = fields.get(key)
        return None if field is None else int(field.parts[field.data[0]][0])

    model = fields.get("tokenizer.ggml.model")
    name = bytes(model.parts[model.data[0]]).decode("utf-8", "replace") if model else "?"
    return [name, len(tokens.data) if tokens is not None else 0,
            digest.hexdigest() if tokens is not None else "",
            scalar("tokenizer.ggml.bos_token_id"), scalar("tokenizer.ggml.eos_token_id")]
