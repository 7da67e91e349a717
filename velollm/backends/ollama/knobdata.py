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
    gone_note: str = ""            # what a user sees of it after `removed` (e.g. still logged)


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
    introduced: str | None = None  # first version that reads it; None: every version we support
    # (first version, default from then on) where the default or its meaning changed.
    default_history: tuple[tuple[str, str], ...] = ()


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
# From this version every GGUF model runs in llama-server (9db4bdbad): flash attention auto,
# the CPU included, and num_batch chosen by Ollama unless a Modelfile or request sets it.
LLAMA_SERVER_SINCE = "0.30.0"

_UINT32 = 2**32 - 1
_UINT64 = 2**64 - 1

# §1.2: the complete list at HEAD (v0.33.0-rc2), plus the removed variables. Introduced/removed
# versions were checked against ollama/ollama's history (`git log -S` on envconfig/ and the
# readers, first release tag containing the commit; issue 12): where they differ from
# ollama-facts.md, the commit is cited here.
_SERVER: tuple[ServerKnob, ...] = (
    _k("host", "host", "http://127.0.0.1:11434", "IP address (and port) the server listens on"),
    _k("origins", "list", "", "extra allowed CORS origins, appended to the built-in ones"),
    _k("models", "path", "$HOME/.ollama/models", "model directory (the service user needs rw)"),
    _k("keep_alive", "duration", "5m",
       "how long an idle model stays loaded (0 = unload at once, negative = forever)",
       tunable=True),
    _k("load_timeout", "duration", "5m",  # 671909764, v0.3.10
       "how long a model load may stall before giving up (0 or negative = infinite)",
       introduced="0.3.10"),
    # §1.3: default 1 at v0.1.33, 0 = auto (4 then 1) from v0.2.0, auto (2 then 1) from v0.6.7,
    # plain 1 from v0.10.0 (no auto-parallel since). On the CPU auto is defaultParallel
    # (server/sched.go). The IPEX-LLM 0.5.4 test runtime runs 1 slot unset (measured), 0.9.3 2.
    _k("num_parallel", "uint", "1", "maximum number of parallel requests per model",
       introduced="0.1.33", minimum=0, maximum=_UINT32, tunable=True,
       default_history=(("0.1.33", "1"),
                        ("0.2.0", "auto: 4 if it fits in VRAM, else 1; 4 on the CPU"),
                        ("0.6.7", "auto: 2 if it fits in VRAM, else 1; 2 on the CPU"),
                        ("0.10.0", "1"))),
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
    # §1.5: plain bool (default off) v0.1.39-v0.12.3; unset = per-model auto from v0.12.4;
    # from v0.30.0 (9db4bdbad) unset passes `--flash-attn auto` to llama-server wherever every
    # device supports it, the CPU included (ml/device.go FlashAttentionSupported).
    _k("flash_attention", "bool", None, "force flash attention on (true) or off (false)",
       introduced="0.1.39", tunable=True,
       default_history=(("0.1.39", "false"), ("0.12.4", "unset = auto per model and GPU"),
                        ("0.30.0", ("unset = auto: llama-server enables it where the devices "
                                    "support it, the CPU included")))),
    _k("kv_cache_type", "enum", "f16", "quantization of the K/V cache (q8_0 ~1/2, q4_0 ~1/4 of f16)",
       introduced="0.5.0", choices=("f16", "q8_0", "q4_0"), tunable=True),
    # b05c9e83d, v0.3.10. From v0.30.0 llama-server's --fit places the layers and ignores it:
    # only the VRAM context tier (server/routes.go) and a log line still subtract it.
    _k("gpu_overhead", "bytes", "0", "VRAM to reserve per GPU, in bytes",
       introduced="0.3.10", minimum=0, maximum=_UINT64, tunable=True),
    _k("sched_spread", "bool", "false", "always spread a model across all GPUs",
       introduced="0.1.45", tunable=True),  # 5e8ff556c
    _k("llm_library", "string", "", "LLM library to use, bypassing autodetection (e.g. cpu_avx2)"),
    _k("noprune", "bool", "false", "do not prune model blobs on startup"),
    _k("nohistory", "bool", "false", "disable the client's readline history"),
    _k("debug", "level", "INFO", "log level: 1/true = DEBUG, 2 = TRACE"),
    _k("debug_log_requests", "bool", "false", "log request bodies to a temp directory",
       introduced="0.18.3"),  # 46cb7795e
    _k("go_template", "bool", "true", "render Modelfile TEMPLATE with Go templates",
       introduced="0.30.0"),
    _k("max_transfer_streams", "uint", "4", "safetensors pull/push parallelism",
       introduced="0.23.3", minimum=0, maximum=_UINT32),  # 1e1b34dad
    _k("no_cloud", "bool", "false", "disable Ollama cloud features", introduced="0.16.2"),
    _k("remotes", "list", "ollama.com", "hosts allowed for remote models",
       introduced="0.12.0"),  # 8b894933a
    _k("editor", "path", "", "editor for Ctrl+G in the client", introduced="0.16.0"),  # 0aaf6119e
    _k("auth", "bool", "false", "sign client requests", introduced="0.8.0"),  # aa25aff10
    # An opt-in plain Bool from v0.12.11 (6286d9a3a); BoolWithDefault, on unless set false, from
    # v0.30.0 (9db4bdbad, discover/runner.go EnableVulkan(true)).
    _k("vulkan", "bool", "true", "use Vulkan GPUs (not on macOS)", introduced="0.12.11",
       default_history=(("0.12.11", "false"), ("0.30.0", "true"))),
    # server/cloud_proxy.go (4eab60c1e, v0.18.0); not in the `server config` log line.
    _k("cloud_base_url", "string", "", ("base URL of Ollama's cloud proxy (release builds "
                                        "accept only a loopback URL)"), introduced="0.18.0"),
    # discover/gpu.go (v0.1.30 on): read at start-up, not in the `server config` log line.
    _k("jetson_jetpack", "string", "", ("NVIDIA Jetson JetPack version (x.y.z), overriding "
                                        "/etc/nv_tegra_release"), env="JETSON_JETPACK"),
    _k("igpu_enable", "bool", None, "allow integrated GPUs", introduced="0.30.0"),
    _k("llama_arg_fit", "enum", "on", "llama-server --fit: shrink to fit memory",
       env="LLAMA_ARG_FIT", introduced="0.30.0", choices=("on", "off")),
    _k("llama_arg_fit_target", "uint", "1024", "llama-server --fit margin to keep free, in MiB",
       env="LLAMA_ARG_FIT_TARGET", introduced="0.30.0", minimum=0, maximum=_UINT32),
    # From v0.30.0 llama-server inherits Ollama's whole environment (llm/llama_server.go
    # SetupLlamaServerCommandEnv: cmd.Env = os.Environ()); a LLAMA_ARG_* applies where Ollama
    # passes no flag of its own. These are the ones it never passes (defaults: llama-server's
    # --help). LLAMA_ARG_CTX_SIZE and friends are overridden: see NOT_KNOBS.
    _k("llama_arg_fit_ctx", "uint", "4096", "llama-server --fit-ctx: the least context --fit "
       "may shrink to", env="LLAMA_ARG_FIT_CTX", introduced="0.30.0", minimum=0,
       maximum=_UINT32),
    _k("llama_arg_n_cpu_moe", "uint", "0", "llama-server --n-cpu-moe: keep the MoE experts of "
       "the first N layers on the CPU", env="LLAMA_ARG_N_CPU_MOE", introduced="0.30.0",
       minimum=0, maximum=_UINT32),
    _k("llama_arg_cpu_moe", "bool", "false", "llama-server --cpu-moe: keep all MoE experts on "
       "the CPU", env="LLAMA_ARG_CPU_MOE", introduced="0.30.0"),
    _k("llama_arg_cache_ram", "uint", "8192", "llama-server --cache-ram: prompt cache size in "
       "MiB (0 = off)", env="LLAMA_ARG_CACHE_RAM", introduced="0.30.0", minimum=0,
       maximum=_UINT32),
    _k("llama_arg_swa_full", "bool", "false", "llama-server --swa-full: full-size KV cache for "
       "sliding-window layers", env="LLAMA_ARG_SWA_FULL", introduced="0.30.0"),
    _k("cuda_visible_devices", "list", "", "NVIDIA devices to use (UUIDs preferred; -1 = CPU)",
       env="CUDA_VISIBLE_DEVICES"),
    _k("hip_visible_devices", "list", "", "AMD devices to use, by numeric ID",
       env="HIP_VISIBLE_DEVICES"),
    _k("rocr_visible_devices", "list", "", "AMD devices to use, by UUID or ID (-1 = CPU)",
       env="ROCR_VISIBLE_DEVICES"),
    _k("gpu_device_ordinal", "list", "", "AMD devices to use, by numeric ID",
       env="GPU_DEVICE_ORDINAL"),
    _k("ggml_vk_visible_devices", "list", "", "Vulkan devices to use (-1 = none)",
       env="GGML_VK_VISIBLE_DEVICES", introduced="0.12.6"),  # 2aba569a2: the Vulkan backend
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
       introduced="0.3.13", removed="0.30.0"),  # 96efd9052 (llm/server.go reads it)
    # The memory estimate stopped reading MAX_VRAM in v0.1.45 (6fd04ca92, llm/memory.go);
    # envconfig still logged it in v0.1.45-v0.2.7 and parsed it in v0.3.2-v0.6.8 (85d9d73a7
    # re-added it, #10623 removed it in v0.7.0), but nothing used the value.
    _k("max_vram", "bytes", "0", "VRAM to use, overriding detection", removed="0.1.45",
       minimum=0, maximum=_UINT64,
       gone_note="Ollama up to 0.6 still parses it, but nothing uses the value"),
    _k("runners_dir", "path", "", "location of the runner binaries", introduced="0.1.33",
       removed="0.3.11"),  # cd5c8f647
    # 4879a234c (v0.5.2) dropped it from envconfig; cmd/cmd.go's help still named it until 0.6.6.
    _k("tmpdir", "path", "", "temporary directory for runner files", removed="0.5.2"),
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
    # From v0.30.0 (9db4bdbad, server/sched.go automaticGenerationBatch) an unset num_batch is
    # Ollama's choice, passed as -b and -ub; setting one (Modelfile or request) turns that off.
    ModelKnob("num_batch", "int", "512", "prompt-processing batch size", minimum=1,
              maximum=_UINT32, runner=True, tunable=True,
              default_history=(("0.1.0", "512"),
                               ("0.30.0", ("unset = Ollama picks 512, 1024 (context > 4096) or "
                                           "2048 (> 32768), lower where it does not fit")))),
    ModelKnob("num_gpu", "int", "-1", "layers to offload to the GPU (-1 = auto, 0 = CPU only)",
              minimum=-1, maximum=100000, runner=True, tunable=True),
    # v0.30.0 made it a *int: unset by default; set, Ollama passes `--split-mode none
    # --main-gpu N` (llm/llama_server.go appendMainGPUArgs): the whole model on that one GPU.
    ModelKnob("main_gpu", "int", None, "the GPU to use (from Ollama 0.30: the whole model on "
              "that one GPU; before: small tensors and scratch)", minimum=0, maximum=1024,
              runner=True, default_history=(("0.1.0", "0"), ("0.30.0", "unset"))),
    ModelKnob("use_mmap", "bool", None, "memory-map the model file", runner=True),
    ModelKnob("num_thread", "int", "0", "CPU threads (0 = let the runtime decide)", minimum=0,
              maximum=4096, runner=True, tunable=True),
    # v0.30.0 (9db4bdbad): --spec-draft-n-max; server/routes.go sets it to 0 for a model
    # without a separate draft unless the Modelfile or request sets it (embedded MTP needs it).
    ModelKnob("draft_num_predict", "int", "4", "tokens a draft model proposes per step (0 = "
              "off; a model with only embedded MTP tensors needs it set)", minimum=0,
              maximum=1024, introduced="0.30.0"),
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
    # 6a261db7d (v0.32.10): "stop applying repeat_penalty 1.1 to models that don't set one".
    ModelKnob("repeat_penalty", "float", "1.0", "penalty for repeated tokens", minimum=0,
              maximum=100, default_history=(("0.1.0", "1.1"), ("0.32.10", "1.0"))),
    ModelKnob("presence_penalty", "float", "0.0", "penalty for tokens already present",
              minimum=-100, maximum=100),
    ModelKnob("frequency_penalty", "float", "0.0", "penalty by token frequency", minimum=-100,
              maximum=100),
    ModelKnob("stop", "stop", None, "stop sequences"),
)
MODEL_KNOBS: dict[str, ModelKnob] = {k.key: k for k in _MODEL}


def _not_a_knob(name: str, lives: str, fork: str = "") -> str:
    return (f"{name} is a per-model parameter, not an Ollama server variable "
            f"(OLLAMA_{name.upper()} is read by no upstream Ollama release{fork}): put it under "
            f"models[] (it becomes a Modelfile PARAMETER / request option){lives}")


# §2: no upstream release ever read these; the settings live in a Modelfile or the request
# options. Intel's IPEX-LLM builds (the test runtimes) do read some: measured with their runner's
# command line, 0.5.4-ipexllm-20250407 honours OLLAMA_NUM_GPU and IPEX_LLM_NUM_CTX (not
# OLLAMA_NUM_CTX), its 0.9.3 build OLLAMA_NUM_GPU and OLLAMA_NUM_CTX.
_NOT = {
    "num_gpu": _not_a_knob("num_gpu", "", "; only Intel's IPEX-LLM builds read it"),
    "num_batch": _not_a_knob("num_batch", ""),
    "num_ctx": _not_a_knob("num_ctx", "; the server-wide default is server.context_length",
                           "; only Intel's IPEX-LLM 0.9.3 build reads it"),
    "num_thread": _not_a_knob("num_thread", ""),
}


def _overridden(env: str, flag: str, instead: str) -> str:
    return (f"{env} has no effect through Ollama: from 0.30 Ollama always passes {flag} to "
            f"llama-server, and a flag on the command line wins over its LLAMA_ARG_ "
            f"variable; set {instead}")


# From v0.30.0 llm/llama_server.go startLlamaServer always passes -c, -np and --flash-attn, and
# -b/-ub whenever num_batch is positive (its default or Ollama's automatic choice): always.
_LLAMA_OVERRIDDEN = {
    "llama_arg_ctx_size": _overridden("LLAMA_ARG_CTX_SIZE", "-c",
                                      "server.context_length or a model's num_ctx"),
    "llama_arg_n_parallel": _overridden("LLAMA_ARG_N_PARALLEL", "-np", "server.num_parallel"),
    "llama_arg_flash_attn": _overridden("LLAMA_ARG_FLASH_ATTN", "--flash-attn",
                                        "server.flash_attention"),
    "llama_arg_batch": _overridden("LLAMA_ARG_BATCH", "-b", "a model's num_batch"),
    "llama_arg_ubatch": _overridden("LLAMA_ARG_UBATCH", "-ub", "a model's num_batch"),
}
NOT_KNOBS: dict[str, str] = {**_NOT, **{f"OLLAMA_{k.upper()}": v for k, v in _NOT.items()},
                             **_LLAMA_OVERRIDDEN,
                             **{k.upper(): v for k, v in _LLAMA_OVERRIDDEN.items()}}
