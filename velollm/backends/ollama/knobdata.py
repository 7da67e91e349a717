"""The knob catalogue as data: every Ollama server variable, every per-model parameter, and the
names people believe are knobs but are not. Facts from shared/ollama-facts.md (cited by section);
the functions that use them live in velollm/knobs.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KnobType = Literal["bool", "uint", "bytes", "duration", "string", "enum", "host", "list", "path",
                   "level"]
ModelKnobType = Literal["int", "float", "bool", "stop"]


@dataclass(frozen=True)
class ServerKnob:
    key: str                      # lower case, without OLLAMA_: "num_parallel"
    env: str                      # "OLLAMA_NUM_PARALLEL"
    type: KnobType
    default: str | None           # as Ollama's code at HEAD states it (None: unset / empty)
    meaning: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    introduced: str | None = None  # first version that reads it; None: every version we support
    removed: str | None = None     # first version that no longer reads it
    # (first version, default from then on) where the default changed, oldest first.
    default_history: tuple[tuple[str, str], ...] = ()
    tunable: bool = False          # velollm.yaml may say "auto": the optimizer chooses


@dataclass(frozen=True)
class ModelKnob:
    key: str
    type: ModelKnobType
    default: str | None
    meaning: str
    minimum: float | None = None
    maximum: float | None = None
    runner: bool = False  # a runner option: changing it reloads the model (§1.6)
    tunable: bool = False  # velollm.yaml may say "auto": the optimizer chooses


def _k(key: str, type_: KnobType, default: str | None, meaning: str, *,
       env: str | None = None, **kw: object) -> ServerKnob:
    return ServerKnob(key=key, env=env or f"OLLAMA_{key.upper()}", type=type_, default=default,
                      meaning=meaning, **kw)  # type: ignore[arg-type]


# Architectures whose flash attention Ollama drops before 0.30 (§1.5): their KV cache stays f16.
NO_FA_ARCHS = frozenset(("gemma2", "bert", "nomic-bert"))
NO_FA_ARCHS_UNTIL = "0.30.0"
# Ollama runs these with one slot whatever OLLAMA_NUM_PARALLEL says (§1.3, Scheduler.load).
SINGLE_SLOT_ARCHS = frozenset(("mllama", "qwen3vl", "qwen3vlmoe", "qwen35", "qwen35moe",
                               "qwen3next", "lfm2", "lfm2moe", "nemotron_h", "nemotron_h_moe",
                               "nemotron_h_omni", "bert", "nomic-bert"))
# From this version an unset OLLAMA_CONTEXT_LENGTH is sized by total VRAM (ollama#14073).
CONTEXT_BY_VRAM_SINCE = "0.15.5"

_UINT32 = 2**32 - 1
_UINT64 = 2**64 - 1

# §1.2: the complete list at HEAD (v0.33.0-rc2), plus the removed variables.
_SERVER: tuple[ServerKnob, ...] = (
    _k("host", "host", "http://127.0.0.1:11434", "IP address (and port) the server listens on"),
    _k("origins", "list", "", "extra allowed CORS origins, appended to the built-in ones"),
    _k("models", "path", "$HOME/.ollama/models", "model directory (the service user needs rw)"),
    _k("keep_alive", "duration", "5m",
       "how long an idle model stays loaded (0 = unload at once, negative = forever)",
       tunable=True),
    _k("load_timeout", "duration", "5m",
       "how long a model load may stall before giving up (0 or negative = infinite)"),
    # §1.3: default 1 at v0.1.33, 0 = auto (4 then 1) from v0.2.0, auto (2 then 1) from v0.6.7,
    # plain 1 from v0.10.0 (no auto-parallel since).
    _k("num_parallel", "uint", "1", "maximum number of parallel requests per model",
       introduced="0.1.33", minimum=0, maximum=_UINT32, tunable=True,
       default_history=(("0.1.33", "1"), ("0.2.0", "auto: 4 if it fits in VRAM, else 1"),
                        ("0.6.7", "auto: 2 if it fits in VRAM, else 1"), ("0.10.0", "1"))),
    _k("max_loaded_models", "uint", "0",
       "maximum number of loaded models in total (0 = auto: 3 per GPU, 3 on CPU)",
       introduced="0.1.33", minimum=0, maximum=_UINT32, tunable=True),
    _k("max_queue", "uint", "512", "maximum number of queued requests (then HTTP 503)",
       introduced="0.1.34", minimum=0, maximum=_UINT32, tunable=True),
    # §1.4: 2048 from v0.5.13, 4096 from v0.6.7, 0 = VRAM-tiered 4k/32k/256k from v0.15.5.
    _k("context_length", "uint", "0",
       "default context length (num_ctx) unless a Modelfile or request sets one",
       introduced="0.5.13", minimum=0, maximum=_UINT32, tunable=True,
       default_history=(("0.5.13", "2048"), ("0.6.7", "4096"),
                        ("0.15.5", ("0 = by total VRAM: 4096, 32768 (>= 23 GiB), "
                                    "262144 (>= 47 GiB)")))),
    # §1.5: plain bool (default off) v0.1.39-v0.12.3; unset = per-model auto from v0.12.4.
    _k("flash_attention", "bool", None, "force flash attention on (true) or off (false)",
       introduced="0.1.39", tunable=True,
       default_history=(("0.1.39", "false"), ("0.12.4", "unset = auto per model and GPU"))),
    _k("kv_cache_type", "enum", "f16", "quantization of the K/V cache (q8_0 ~1/2, q4_0 ~1/4 of f16)",
       introduced="0.5.0", choices=("f16", "q8_0", "q4_0"), tunable=True),
    _k("gpu_overhead", "bytes", "0", "VRAM to reserve per GPU, in bytes",
       minimum=0, maximum=_UINT64, tunable=True),  # introduced: UNCONFIRMED in the facts
    _k("sched_spread", "bool", "false", "always spread a model across all GPUs", tunable=True),
    _k("llm_library", "string", "", "LLM library to use, bypassing autodetection (e.g. cpu_avx2)"),
    _k("noprune", "bool", "false", "do not prune model blobs on startup"),
    _k("nohistory", "bool", "false", "disable the client's readline history"),
    _k("debug", "level", "INFO", "log level: 1/true = DEBUG, 2 = TRACE"),
    _k("debug_log_requests", "bool", "false", "log request bodies to a temp directory",
       introduced="0.20.0"),
    _k("go_template", "bool", "true", "render Modelfile TEMPLATE with Go templates",
       introduced="0.30.0"),
    _k("max_transfer_streams", "uint", "4", "safetensors pull/push parallelism",
       introduced="0.24.0", minimum=0, maximum=_UINT32),
    _k("no_cloud", "bool", "false", "disable Ollama cloud features", introduced="0.16.2"),
    _k("remotes", "list", "ollama.com", "hosts allowed for remote models", introduced="0.12.4"),
    _k("editor", "path", "", "editor for Ctrl+G in the client", introduced="0.16.2"),
    _k("auth", "bool", "false", "sign client requests", introduced="0.9.0"),
    # §1.2: plain Bool default false ("experimental") at v0.24.0, default true at HEAD.
    # The first version reading it is UNCONFIRMED; v0.24.0 is the oldest tag known to.
    _k("vulkan", "bool", "true", "use Vulkan GPUs (not on macOS)", introduced="0.24.0",
       default_history=(("0.24.0", "false"), ("0.30.0", "true"))),
    _k("igpu_enable", "bool", None, "allow integrated GPUs", introduced="0.30.0"),
    _k("llama_arg_fit", "enum", "on", "llama-server --fit: shrink to fit memory",
       env="LLAMA_ARG_FIT", introduced="0.30.0", choices=("on", "off")),
    _k("llama_arg_fit_target", "uint", None, "llama-server --fit margin to keep free, in MiB",
       env="LLAMA_ARG_FIT_TARGET", introduced="0.30.0", minimum=0, maximum=_UINT32),
    _k("cuda_visible_devices", "list", "", "NVIDIA devices to use (UUIDs preferred; -1 = CPU)",
       env="CUDA_VISIBLE_DEVICES"),
    _k("hip_visible_devices", "list", "", "AMD devices to use, by numeric ID",
       env="HIP_VISIBLE_DEVICES"),
    _k("rocr_visible_devices", "list", "", "AMD devices to use, by UUID or ID (-1 = CPU)",
       env="ROCR_VISIBLE_DEVICES"),
    _k("gpu_device_ordinal", "list", "", "AMD devices to use, by numeric ID",
       env="GPU_DEVICE_ORDINAL"),
    _k("ggml_vk_visible_devices", "list", "", "Vulkan devices to use (-1 = none)",
       env="GGML_VK_VISIBLE_DEVICES"),
    _k("hsa_override_gfx_version", "string", "", "ROCm GFX version override, e.g. 10.3.0",
       env="HSA_OVERRIDE_GFX_VERSION"),
    _k("https_proxy", "string", "", "proxy for pulling models", env="HTTPS_PROXY"),
    _k("http_proxy", "string", "", "plain-HTTP proxy (the FAQ says: avoid it)",
       env="HTTP_PROXY"),
    _k("no_proxy", "list", "", "hosts that bypass the proxy", env="NO_PROXY"),
    # Removed variables (§1.2): accepted, but a plan says they are ignored on newer versions.
    _k("new_engine", "bool", "false", "use the Ollama engine", introduced="0.5.12",
       removed="0.30.0"),
    _k("multiuser_cache", "bool", "false", "optimize prompt caching for multi-user scenarios",
       introduced="0.3.14", removed="0.30.0"),
    # MAX_VRAM was read until v0.2.8 and again v0.3.10-v0.7.0; we model the later span.
    _k("max_vram", "bytes", "0", "VRAM to use, overriding detection", introduced="0.3.10",
       removed="0.7.0", minimum=0, maximum=_UINT64),
    _k("runners_dir", "path", "", "location of the runner binaries", introduced="0.1.33",
       removed="0.3.14"),
    _k("tmpdir", "path", "", "temporary directory for runner files", removed="0.5.7"),
    _k("intel_gpu", "bool", "false", "enable experimental Intel GPU support", introduced="0.1.45",
       removed="0.12.11"),
    _k("new_estimates", "bool", "false", "use the new memory estimates", introduced="0.11.5",
       removed="0.11.11"),
)
SERVER_KNOBS: dict[str, ServerKnob] = {k.key: k for k in _SERVER}

# §2: per-request options and Modelfile PARAMETERs (api/types.go Runner + Options, DefaultOptions).
_MODEL: tuple[ModelKnob, ...] = (
    ModelKnob("num_ctx", "int", "OLLAMA_CONTEXT_LENGTH", "context window in tokens (per slot)",
              minimum=1, maximum=_UINT32, runner=True, tunable=True),
    ModelKnob("num_batch", "int", "512", "prompt-processing batch size", minimum=1,
              maximum=_UINT32, runner=True, tunable=True),
    ModelKnob("num_gpu", "int", "-1", "layers to offload to the GPU (-1 = auto, 0 = CPU only)",
              minimum=-1, maximum=100000, runner=True, tunable=True),
    ModelKnob("main_gpu", "int", "0", "GPU for small tensors and scratch", minimum=0,
              maximum=1024, runner=True),
    ModelKnob("use_mmap", "bool", None, "memory-map the model file", runner=True),
    ModelKnob("num_thread", "int", "0", "CPU threads (0 = let the runtime decide)", minimum=0,
              maximum=4096, runner=True, tunable=True),
    ModelKnob("draft_num_predict", "int", "4", "tokens a draft model proposes (0 = off)",
              minimum=0, maximum=1024),
    ModelKnob("num_keep", "int", "4", "tokens kept from the prompt when the context shifts",
              minimum=-1, maximum=_UINT32),
    ModelKnob("seed", "int", "-1", "random seed (-1 = random)", minimum=-(2**31),
              maximum=2**31 - 1),
    ModelKnob("num_predict", "int", "-1", "maximum tokens to generate (-1 = no limit)",
              minimum=-2, maximum=_UINT32),
    ModelKnob("top_k", "int", "40", "sample from the k most likely tokens", minimum=0,
              maximum=_UINT32),
    ModelKnob("top_p", "float", "0.9", "nucleus sampling threshold", minimum=0, maximum=1),
    ModelKnob("min_p", "float", "0.0", "minimum token probability relative to the best",
              minimum=0, maximum=1),
    ModelKnob("typical_p", "float", "1.0", "locally typical sampling", minimum=0, maximum=1),
    ModelKnob("repeat_last_n", "int", "64", "window for the repeat penalty (-1 = num_ctx)",
              minimum=-1, maximum=_UINT32),
    ModelKnob("temperature", "float", "0.8", "sampling temperature", minimum=0, maximum=100),
    ModelKnob("repeat_penalty", "float", "1.0", "penalty for repeated tokens", minimum=0,
              maximum=100),
    ModelKnob("presence_penalty", "float", "0.0", "penalty for tokens already present",
              minimum=-100, maximum=100),
    ModelKnob("frequency_penalty", "float", "0.0", "penalty by token frequency", minimum=-100,
              maximum=100),
    ModelKnob("stop", "stop", None, "stop sequences"),
)
MODEL_KNOBS: dict[str, ModelKnob] = {k.key: k for k in _MODEL}


def _not_a_knob(name: str, lives: str) -> str:
    return (f"{name} is a per-model parameter, not an Ollama server variable "
            f"(OLLAMA_{name.upper()} is read by no Ollama release): put it under models[] "
            f"(it becomes a Modelfile PARAMETER / request option){lives}")


# §2: no release ever read these; the settings live in a Modelfile or the request options.
_NOT = {
    "num_gpu": _not_a_knob("num_gpu", ""),
    "num_batch": _not_a_knob("num_batch", ""),
    "num_ctx": _not_a_knob("num_ctx", "; the server-wide default is server.context_length"),
    "num_thread": _not_a_knob("num_thread", ""),
}
NOT_KNOBS: dict[str, str] = {**_NOT, **{f"OLLAMA_{k.upper()}": v for k, v in _NOT.items()}}
