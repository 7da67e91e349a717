"""How much memory Ollama needs for a model: weights + KV cache + compute graph + per-GPU reserve.

Pure; a re-implementation of Ollama's own estimator (ollama-facts.md §5: `GraphSize` and
`EstimateGPULayers` of v0.9.6/v0.13.5), with the KV cache at ggml's real block sizes. Weights are the
GGUF file size, split evenly over the repeating layers plus one output layer. Newer Ollama versions
measure real allocations, which stay at or below this estimate, so a fit here is a fit there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from velollm.core.models import ModelInfo

MIB = 1024**2
GIB = 1024**3
MINIMUM_MEMORY = 457 * MIB  # free VRAM Ollama leaves on each CUDA/ROCm GPU (ml/device.go)
METAL_MINIMUM_MEMORY = 512 * MIB
DEFAULT_BATCH = 512
_DEFAULT_VOCAB = 128256  # when /api/show omits it: a large common vocabulary (conservative)

# ggml block sizes: (bytes, elements); q8_0 = 2-byte scale + 32 int8, q4_0 = 2 + 16 (ggml-common.h).
KV_TYPES: dict[str, tuple[int, int]] = {"f32": (4, 1), "f16": (2, 1), "q8_0": (34, 32),
                                        "q4_0": (18, 32)}
# Bits per weight of the usual GGUF file types, to size the output (vocab x embd) tensor.
_BITS_PER_WEIGHT = {"F32": 32.0, "F16": 16.0, "BF16": 16.0, "Q8_0": 8.5, "Q6_K": 6.56,
                    "Q5_K_M": 5.5, "Q5_0": 5.5, "Q4_K_M": 4.85, "Q4_K_S": 4.6, "Q4_0": 4.5,
                    "Q3_K_M": 3.9, "Q2_K": 3.35}


def kv_bytes(elements: int, kv_type: str) -> int:
    num, per = KV_TYPES.get(kv_type.lower() or "f16", KV_TYPES["f16"])
    return -(-elements * num // per)  # whole blocks, rounded up


def kv_per_layer(model: ModelInfo, ctx_total: int, num_parallel: int, kv_type: str,
                 batch: int) -> tuple[int, ...]:
    """KV bytes of each layer; sliding-window layers keep only their window (v0.13.5 GraphSize)."""
    dims = model.key_length + model.value_length
    out = []
    for i, heads_kv in enumerate(model.head_count_kv):
        tokens = ctx_total
        window = _window(model, i, num_parallel, batch)
        if window is not None:
            tokens = min(tokens, window)
        out.append(kv_bytes(tokens * dims * heads_kv, kv_type))
    return tuple(out)


def _window(model: ModelInfo, layer: int, num_parallel: int, batch: int) -> int | None:
    if model.architecture == "gemma3" and model.sliding_window and (layer + 1) % 6:
        return num_parallel * model.sliding_window + batch  # 5 of 6 layers are local
    if model.architecture in ("gptoss", "gpt-oss") and layer % 2 == 0:
        return num_parallel * 4096 + batch
    return None


def graph_size(model: ModelInfo, ctx: int, batch: int, kv_total: int) -> tuple[int, int]:
    """(full offload, partial offload) compute-graph bytes: Ollama's per-architecture formulas."""
    embd, heads = model.embedding_length, model.head_count
    heads_kv, head_k = model.max_head_count_kv, model.key_length
    vocab = model.vocab_size or _DEFAULT_VOCAB
    arch = model.architecture
    if arch in ("llama", "llama4"):
        full = max(4 * batch * (1 + 4 * embd + ctx * (1 + heads)), 4 * batch * (embd + vocab))
        partial = 4 * batch * embd + max(
            4 * batch * (1 + embd + max(ctx, embd)) + embd * embd * 9 // 16
            + 4 * ctx * (batch * heads + head_k * heads_kv),
            4 * batch * (embd + vocab) + embd * vocab * 105 // 128)
        return full, partial
    if arch == "qwen2":
        full = max(4 * batch * (embd + vocab), 4 * batch * (1 + 2 * embd + ctx + ctx * heads))
        partial = max(4 * batch * (embd + vocab) + embd * vocab * 105 // 128,
                      4 * (batch * (1 + 2 * embd + ctx * (1 + heads)) + embd * (1 + ctx)))
        return full, partial
    if arch.startswith("gemma"):
        full = max(4 * batch * (embd + vocab),
                   4 * batch * (2 + ctx + ctx * heads + 2 * embd + 2 * head_k * heads))
        partial = max(4 * embd * batch + embd * vocab * 105 // 128 + 4 * vocab * batch,
                      4 * batch * (2 * embd + 1 + 2 * head_k * heads + ctx + ctx * heads)
                      + 4 * head_k * ctx * 8 + embd * head_k * heads * 9 // 16)
        return full, partial
    # Unknown architecture: Ollama's fallback (llm/memory.go v0.9.6).
    min_kv = min((h for h in model.head_count_kv if h), default=1)
    partial = heads // max(min_kv, 1) * kv_total // 6
    return partial, partial


@dataclass(frozen=True)
class Gpu:
    free_bytes: int
    metal: bool = False
    name: str = "GPU"

    @property
    def reserve(self) -> int:
        return METAL_MINIMUM_MEMORY if self.metal else MINIMUM_MEMORY


@dataclass(frozen=True)
class Placement:
    layers: int  # layers on GPU, the output layer counted as one
    total_layers: int  # block_count + 1
    gpu_bytes: tuple[int, ...]  # per GPU, in the order given (reserve and graph included)
    cpu_bytes: int

    @property
    def full(self) -> bool:
        return self.layers >= self.total_layers

    @property
    def kind(self) -> str:
        return "full" if self.full else ("cpu" if self.layers == 0 else "partial")

    @property
    def vram_bytes(self) -> int:
        return sum(self.gpu_bytes)


@dataclass(frozen=True)
class Estimate:
    model: ModelInfo
    num_ctx: int  # per request slot
    num_parallel: int
    kv_type: str
    batch: int
    layer_weights: int  # bytes of one repeating layer
    output_weights: int
    kv_layers: tuple[int, ...]
    graph_full: int
    graph_partial: int

    @property
    def offline(self) -> bool:
        """True when the model's metadata came from the shipped table, not a live server."""
        return self.model.offline

    @property
    def weights(self) -> int:
        return self.model.size_bytes

    @property
    def kv(self) -> int:
        return sum(self.kv_layers)

    @property
    def buffer_layer(self) -> int:
        """One layer (weights + KV) Ollama adds as a safety buffer, on CPU as on each GPU."""
        return self.layer_weights + (self.kv_layers[0] if self.kv_layers else 0)

    @property
    def total(self) -> int:
        """Bytes for a CPU-only load (no per-GPU reserve): what Ollama reports as /api/ps size."""
        return self.weights + self.kv + self.graph_full + self.buffer_layer

    def breakdown(self, gpu: Gpu | None = None, overhead: int = 0) -> dict[str, int]:
        parts = {"weights": self.weights, "kv_cache": self.kv, "graph": self.graph_full,
                 "buffer_layer": self.buffer_layer}
        if gpu is not None:
            parts |= {"reserve": gpu.reserve, "gpu_overhead": overhead}
        return parts | {"total": sum(parts.values())}

    def fits(self, gpus: Sequence[Gpu], *, overhead: int = 0, num_gpu: int | None = None,
             spread: bool = False) -> Placement:
        """Where Ollama puts the layers: one GPU if the model fits one (unless spread), else all."""
        if not gpus or num_gpu == 0:
            return Placement(0, self.model.block_count + 1, (), self.total)
        if not spread and len(gpus) > 1:
            for i in sorted(range(len(gpus)), key=lambda i: -gpus[i].free_bytes):
                single = self._place([gpus[i]], overhead, num_gpu)
                if single.full:
                    per_gpu = [0] * len(gpus)
                    per_gpu[i] = single.gpu_bytes[0]
                    return Placement(single.layers, single.total_layers, tuple(per_gpu), 0)
        return self._place(gpus, overhead, num_gpu)

    def _place(self, gpus: Sequence[Gpu], overhead: int, num_gpu: int | None) -> Placement:
        full_graph, partial_graph = self.graph_full, self.graph_partial
        if gpus[0].metal:
            partial_graph = full_graph  # no partial-offload overhead on Metal
        elif len(gpus) > 1:
            full_graph = partial_graph
        graph = max(full_graph, partial_graph)
        n = self.model.block_count
        layer0 = self.buffer_layer
        used = [g.reserve + layer0 for g in gpus]
        space = [i for i, g in enumerate(gpus)
                 if g.free_bytes >= overhead + graph + g.reserve + 2 * layer0]
        counts = [0] * len(gpus)
        cap = n + 1 if num_gpu is None or num_gpu < 0 else num_gpu
        sizes = [self.layer_weights + kv for kv in self.kv_layers] + [self.output_weights]
        placed, cpu = 0, 0
        for i in [*range(n - 1, -1, -1), n]:  # last layer first, the output layer at the end
            size = sizes[i]
            while space and placed < cap:
                g = space[i % len(space)]
                if gpus[g].free_bytes > overhead + used[g] + graph + size:
                    used[g] += size
                    counts[g] += 1
                    placed += 1
                    break
                space.remove(g)
            else:
                cpu += size
        graph_used = full_graph if placed >= n + 1 else partial_graph
        per_gpu = tuple(used[g] + graph_used if counts[g] else 0 for g in range(len(gpus)))
        return Placement(placed, n + 1, per_gpu, cpu)


def estimate(model: ModelInfo, num_ctx: int, num_parallel: int = 1, kv_type: str = "f16",
             num_batch: int = DEFAULT_BATCH) -> Estimate:
    # No cap at the trained context here: Ollama 0.5.4 allocates what is asked (measured); the
    # optimizer never asks for more than the model was trained on.
    num_ctx = max(1, num_ctx)
    num_parallel = max(1, num_parallel)
    ctx_total = num_ctx * num_parallel
    batch = min(ctx_total, num_batch)
    kv = kv_per_layer(model, ctx_total, num_parallel, kv_type, batch)
    full, partial = graph_size(model, ctx_total, batch, sum(kv))
    output = _output_weights(model)
    layer = (model.size_bytes - output) // max(model.block_count, 1)
    return Estimate(model, num_ctx, num_parallel, kv_type.lower() or "f16", batch, layer, output,
                    kv, full, partial)


def _output_weights(model: ModelInfo) -> int:
    """Bytes of the output (vocab x embd) tensor, capped at a third of the file."""
    bits = _BITS_PER_WEIGHT.get((model.quantization or "").upper(), 8.5)
    vocab = model.vocab_size or _DEFAULT_VOCAB
    return min(int(vocab * model.embedding_length * bits / 8), model.size_bytes // 3)


def gib(n: float) -> str:
    """'4.9 GiB', '512 MiB': the unit a user reads in a reason."""
    if abs(n) < GIB:
        return f"{n / MIB:.0f} MiB"
    return f"{n / GIB:.1f} GiB"
