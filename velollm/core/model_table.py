"""Architecture metadata of popular Ollama models, for estimates made without a server.

Each entry mirrors what `/api/show` reports in `model_info` (the GGUF metadata) plus the blob size of
the default tag from `/api/tags`. Sources:
- architecture numbers: the GGUF metadata keys `<arch>.block_count`, `.embedding_length`,
  `.attention.head_count(_kv)`, `.attention.key_length`, `.context_length` of the default Ollama tags,
  which equal the upstream `config.json` values (num_hidden_layers, hidden_size, num_attention_heads,
  num_key_value_heads, head_dim, max_position_embeddings) on Hugging Face;
- sizes: byte counts from real `/api/tags` answers found in public repositories (llama3.1:8b
  4920753328, qwen2.5:7b 4683087332, llama3.3:70b 42520413916, gemma2:9b 5443152417, llama3.2:1b
  1321098329, phi4 9053116391, ...). Entries marked `approx` are the rounded size of the ollama.com
  library page.
"""

from __future__ import annotations

from typing import Any

_LLAMA3_VOCAB = 128256
_QWEN2_VOCAB = 152064


def _m(arch: str, layers: int, embd: int, heads: int, kv: int, ctx: int, size: int,
       quant: str, params: float, vocab: int, **extra: Any) -> dict[str, Any]:
    return {"architecture": arch, "block_count": layers, "embedding_length": embd,
            "head_count": heads, "head_count_kv": kv, "context_length": ctx, "size": size,
            "quantization": quant, "parameter_count": int(params * 1e9), "vocab_size": vocab,
            **extra}


_LLAMA31_8B = _m("llama", 32, 4096, 32, 8, 131072, 4920753328, "Q4_K_M", 8.03, _LLAMA3_VOCAB)
_LLAMA_70B = _m("llama", 80, 8192, 64, 8, 131072, 42520413916, "Q4_K_M", 70.6, _LLAMA3_VOCAB)
_QWEN25_7B = _m("qwen2", 28, 3584, 28, 4, 32768, 4683087332, "Q4_K_M", 7.62, _QWEN2_VOCAB)
_QWEN25_14B = _m("qwen2", 48, 5120, 40, 8, 32768, 8988124069, "Q4_K_M", 14.8, _QWEN2_VOCAB)
_QWEN25_32B = _m("qwen2", 64, 5120, 40, 8, 32768, 19851336256, "Q4_K_M", 32.8, _QWEN2_VOCAB)

MODELS: dict[str, dict[str, Any]] = {
    "llama3.2:1b": _m("llama", 16, 2048, 32, 8, 131072, 1321098329, "Q8_0", 1.24, _LLAMA3_VOCAB),
    "llama3.2:3b": _m("llama", 28, 3072, 24, 8, 131072, 2019393189, "Q4_K_M", 3.21, _LLAMA3_VOCAB),
    "llama3.1:8b": _LLAMA31_8B,
    "llama3.1:70b": _LLAMA_70B,
    "llama3.3:70b": _LLAMA_70B,
    "qwen2.5:7b": _QWEN25_7B,
    "qwen2.5:14b": _QWEN25_14B,
    "qwen2.5:32b": _QWEN25_32B,
    # gemma2: head_dim 256 (9b) / 128 (27b) differs from embd/heads, hence key_length.
    "gemma2:9b": _m("gemma2", 42, 3584, 16, 8, 8192, 5443152417, "Q4_0", 9.24, 256000,
                    key_length=256, value_length=256, sliding_window=4096),
    "gemma2:27b": _m("gemma2", 46, 4608, 32, 16, 8192, 15628387458, "Q4_0", 27.2, 256000,
                     key_length=128, value_length=128, sliding_window=4096),
    "mistral:7b": _m("llama", 32, 4096, 32, 8, 32768, 4372824384, "Q4_0", 7.25, 32768),
    "mixtral:8x7b": _m("llama", 32, 4096, 32, 8, 32768, 26_400_000_000, "Q4_0", 46.7, 32000,
                       expert_count=8, approx=True),
    "phi3:3.8b": _m("phi3", 32, 3072, 32, 32, 4096, 2176178913, "Q4_0", 3.82, 32064),
    "phi4:14b": _m("phi3", 40, 5120, 40, 10, 16384, 9053116391, "Q4_K_M", 14.7, 100352),
    # DeepSeek-R1 distills reuse the Qwen2.5 / Llama architectures of their base models.
    "deepseek-r1:7b": {**_QWEN25_7B, "context_length": 131072, "size": 4683073184},
    "deepseek-r1:14b": {**_QWEN25_14B, "context_length": 131072, "size": 8988110976},
    "deepseek-r1:32b": {**_QWEN25_32B, "context_length": 131072, "size": 19851336384},
    "deepseek-r1:70b": {**_LLAMA_70B, "size": 42520397704},
}

# Tags that name the same blob as an entry above.
ALIASES: dict[str, str] = {
    "llama3.2:latest": "llama3.2:3b", "llama3.2": "llama3.2:3b",
    "llama3.1:latest": "llama3.1:8b", "llama3.1": "llama3.1:8b",
    "llama3.3:latest": "llama3.3:70b", "llama3.3": "llama3.3:70b",
    "qwen2.5:latest": "qwen2.5:7b", "qwen2.5": "qwen2.5:7b",
    "gemma2:latest": "gemma2:9b", "gemma2": "gemma2:9b",
    "mistral:latest": "mistral:7b", "mistral": "mistral:7b",
    "mixtral:latest": "mixtral:8x7b", "mixtral": "mixtral:8x7b",
    "phi3:latest": "phi3:3.8b", "phi3": "phi3:3.8b", "phi3:mini": "phi3:3.8b",
    "phi4:latest": "phi4:14b", "phi4": "phi4:14b",
    "llama3.1:70b-instruct-q4_K_M": "llama3.1:70b", "llama3.3:70b-instruct-q4_K_M": "llama3.3:70b",
}
