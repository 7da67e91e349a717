"""vLLM's memory model, pure: what one device holds and how much KV cache is left, in blocks.

vLLM (0.32.0, vllm/v1/worker/*_worker.py and vllm/v1/core/kv_cache_utils.py) takes
gpu_memory_utilization x the device's memory (on the CPU build: x the NUMA node's RAM), loads the
weights, profiles one forward pass of max_num_batched_tokens tokens for the activation peak, and
gives what remains to the KV cache (unless kv_cache_memory_bytes / VLLM_CPU_KVCACHE_SPACE fixes
it). The cache is cut into blocks of block_size tokens across all layers; a request of
max_model_len tokens needs cdiv(max_model_len, block_size) of them, so vLLM's log line "Maximum
concurrency for N tokens per request: X" is num_blocks / that. A max_model_len that not even one
request fits is refused at start ("To serve at least one request with the model's max seq len
...").

Estimated here, not profiled: the activation peak (the intermediate tensors of one layer for the
batched tokens, plus the sampler's float32 logits) and a fixed allowance for CUDA graphs when
enforce_eager is off. Sliding-window layers are counted as full attention, so the block count
is a lower bound for those models.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1 << 30
DTYPE_BYTES = {"auto": 2, "float16": 2, "half": 2, "bfloat16": 2, "float": 4, "float32": 4,
               "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "fp8_inc": 1, "int8_per_token_head": 1,
               "fp8_per_token_head": 1}
CUDA_GRAPH_ALLOWANCE = GIB // 2  # graphs captured for decode batch sizes (not profiled here)


@dataclass(frozen=True)
class VllmModel:
    """What the memory model needs of a model (from its config.json and weight files)."""

    layers: int
    kv_heads: int
    head_dim: int
    hidden: int
    intermediate: int
    vocab: int
    weight_bytes: int  # the checkpoint's tensors as loaded (dtype as stored)
    max_position: int  # max_position_embeddings: the default max_model_len


@dataclass(frozen=True)
class VllmSettings:
    device_bytes: int  # one device's memory (CPU build: the node's RAM)
    utilization: float = 0.92
    max_model_len: int | None = None  # None: the model's max_position
    max_num_seqs: int = 256
    max_num_batched_tokens: int = 2048
    block_size: int = 16
    kv_dtype_bytes: int = 2
    act_dtype_bytes: int = 2
    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    kv_cache_bytes: int | None = None  # fixed by kv_cache_memory_bytes / VLLM_CPU_KVCACHE_SPACE
    cuda_graphs: bool = True  # enforce_eager off on a GPU


@dataclass(frozen=True)
class VllmMemory:
    budget: int  # utilization x device
    weights: int  # per device
    activations: int  # estimated peak of the profiling pass, per device
    graphs: int
    kv_bytes: int  # what the KV cache gets
    block_bytes: int  # one block across this device's layers
    num_blocks: int
    max_model_len: int
    blocks_per_request: int
    block_size: int

    @property
    def kv_tokens(self) -> int:
        return int(self.max_concurrency * self.max_model_len)

    @property
    def max_concurrency(self) -> float:
        """vLLM's "Maximum concurrency for N tokens per request"."""
        return self.num_blocks / self.blocks_per_request if self.blocks_per_request else 0.0

    @property
    def fits(self) -> bool:
        return self.max_concurrency >= 1

    @property
    def longest_fitting(self) -> int:
        """The longest max_model_len one request fits (whole blocks)."""
        return self.num_blocks * self.block_size

    def explain(self) -> str:
        return (f"{self.budget / GIB:.1f} GiB budget - {self.weights / GIB:.2f} GiB weights - "
                f"{self.activations / GIB:.2f} GiB activations"
                + (f" - {self.graphs / GIB:.1f} GiB CUDA graphs" if self.graphs else "")
                + f" = {self.kv_bytes / GIB:.2f} GiB KV cache: {self.num_blocks} blocks, "
                f"{self.kv_tokens:,} tokens, maximum concurrency for {self.max_model_len:,} "
                f"tokens per request: {self.max_concurrency:.2f}x")


def kv_bytes_per_token(model: VllmModel, s: VllmSettings) -> int:
    """K and V of every layer this device holds, for one token."""
    heads = max(model.kv_heads // s.tensor_parallel, 1)  # replicated when tp > kv heads
    layers = -(-model.layers // s.pipeline_parallel)
    return 2 * layers * heads * model.head_dim * s.kv_dtype_bytes


def activation_peak(model: VllmModel, s: VllmSettings) -> int:
    """One layer's intermediates for the batched tokens plus the sampler's float32 logits."""
    tokens = s.max_num_batched_tokens
    per_token = (2 * model.intermediate + 4 * model.hidden) // s.tensor_parallel
    logits = min(s.max_num_seqs, tokens) * model.vocab * 4
    return tokens * per_token * s.act_dtype_bytes + logits


def allocate(model: VllmModel, s: VllmSettings) -> VllmMemory:
    budget = int(s.device_bytes * s.utilization)
    weights = model.weight_bytes // (s.tensor_parallel * s.pipeline_parallel)
    acts = activation_peak(model, s)
    graphs = CUDA_GRAPH_ALLOWANCE if s.cuda_graphs else 0
    kv = s.kv_cache_bytes if s.kv_cache_bytes is not None else \
        max(budget - weights - acts - graphs, 0)
    block = kv_bytes_per_token(model, s) * s.block_size
    blocks = kv // block if block else 0
    mml = s.max_model_len or model.max_position
    return VllmMemory(budget, weights, acts, graphs, kv, block, blocks, mml,
                      -(-mml // s.block_size), s.block_size)


def refusal(m: VllmMemory) -> str | None:
    """vLLM's own refusal, with the numbers, when not one request of max_model_len fits."""
    if m.fits:
        return None
    need = m.blocks_per_request * m.block_bytes
    if m.num_blocks == 0:
        return (f"no memory is left for the KV cache ({m.explain()}): raise "
                "gpu_memory_utilization or use a smaller model")
    return (f"one request of max_model_len {m.max_model_len:,} needs {need / GIB:.2f} GiB of "
            f"KV cache, more than the {m.kv_bytes / GIB:.2f} GiB left ({m.num_blocks} blocks "
            f"hold {m.longest_fitting:,} tokens): vLLM refuses to start; lower max_model_len "
            "or raise gpu_memory_utilization")
