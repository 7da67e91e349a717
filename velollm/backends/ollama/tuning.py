"""`velollm tune` on Ollama: the search space from the knob catalogue and what the installed
version reads, pruning by the memory model and Ollama's rules, a fresh `ollama serve` per
candidate (tune_run.py), and velollm's rule-based choice for the comparison.

The installed binary's version and the model's metadata come from one probe server started
the same way as the candidates (the model store is only readable through a server)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from velollm.backends.base import TuneRequest
from velollm.backends.ollama import knobs, tune_run
from velollm.backends.ollama.tune_run import OllamaRuntime
from velollm.core.facts import Capabilities
from velollm.core.models import ModelInfo
from velollm.core.tune_space import (
    OLLAMA_SERVER_KEYS,
    Candidate,
    OllamaRules,
    Space,
    for_workload,
    ollama_pins,
    ollama_prune,
    ollama_space,
)
from velollm.errors import UsageError

# The version from which Ollama runs llama-server and quantizes the cache on the CPU too.
LLAMA_SERVER_SINCE = "0.30.0"
_MODEL_KEYS = ("num_batch", "num_thread")


@dataclass
class OllamaTuning:
    request: TuneRequest
    runtime: OllamaRuntime
    version: str | None
    info: ModelInfo | None
    rules: OllamaRules
    rule_choice: Candidate
    space: Space = field(init=False)

    def __post_init__(self) -> None:
        caps = knobs.capabilities(self.version)
        self.space = ollama_space(self.request.workload,
                                  self.request.hardware.cpu.physical_cores or 1,
                                  flash_attention=caps.reads("flash_attention"),
                                  kv_cache_type=caps.reads("kv_cache_type"))
        self._launch = tune_run.launcher(self.runtime, self.request.workload)

    @property
    def described(self) -> Mapping[str, str]:
        out = {"binary": str(self.runtime.binary), "model": self.runtime.model,
               "build": f"Ollama {self.version or '?'}",
               "models_dir": str(self.runtime.models_dir)}
        if self.info is not None:  # the weights' size, for the roofline
            out["model_bytes"] = str(self.info.size_bytes)
        return out

    def prune(self, candidate: Candidate) -> str | None:
        return ollama_prune(candidate, self.request.workload, self.info,
                            self.request.hardware.memory.available_bytes, self.rules)

    def launch(self, candidate: Candidate
               ) -> contextlib.AbstractContextManager[Callable[[], float | None]]:
        return self._launch(candidate)

    def rule_based(self) -> Candidate:
        return for_workload(self.rule_choice, "num_parallel", self.request.workload.concurrency,
                            self.prune)

    def pins(self, candidate: Candidate) -> dict[str, object]:
        return ollama_pins(candidate)

    def model_pins(self, candidate: Candidate) -> dict[str, dict[str, object]]:
        params = {k: candidate[k] for k in _MODEL_KEYS if k in candidate}
        return {self.runtime.model: params} if params else {}


Rules = Callable[[ModelInfo | None, Capabilities], tuple[Mapping[str, object],
                                                         Mapping[str, object]]]


def tuning(request: TuneRequest, rules: Rules) -> OllamaTuning:
    """Resolve the binary, the model and the store (clear errors), then probe the version and
    the model's metadata on a server of our own. `rules` is velollm's plan: (server, model)."""
    binary = request.binary or _which("ollama")
    if binary is None or not binary.is_file():
        raise UsageError("the ollama binary is not found" if binary is None else
                         f"the ollama binary {binary} does not exist",
                         hint="give it with --binary PATH, or put `ollama` on PATH")
    model = str(request.model) if request.model is not None else next(
        iter(request.model_names), None)
    if not model:
        raise UsageError("no model to tune", hint="give it with --model NAME (as `ollama list` "
                         "shows it), or list it under models: in velollm.yaml")
    store = models_dir(os.environ, Path.home())
    if not store.is_dir():
        raise UsageError(f"the Ollama model store {store} does not exist",
                         hint="pull the model first (`ollama pull MODEL`), or set OLLAMA_MODELS")
    runtime = OllamaRuntime(binary, model, store, request.workdir)
    version, info = probe(runtime)
    caps = knobs.capabilities(version)
    old = knobs.parse_version(version) < knobs.parse_version(LLAMA_SERVER_SINCE) \
        if version else False
    from velollm.core.optimizer_profiles import budget

    gpus = budget(request.hardware).gpus
    limits = OllamaRules(gpus, quantized_kv_needs_gpu=old, flash_attention_dropped=bool(
        info and info.architecture in caps.flash_attention_dropped))
    server, params = rules(info, caps)
    chosen = {k: server[k] for k in OLLAMA_SERVER_KEYS if server.get(k) is not None}
    chosen |= {k: params[k] for k in _MODEL_KEYS if params.get(k) is not None}
    return OllamaTuning(request, runtime, version, info, limits, chosen)


def models_dir(environ: Mapping[str, str], home: Path) -> Path:
    """The user's model store, where their `ollama serve` looks: OLLAMA_MODELS, else
    ~/.ollama/models."""
    return Path(environ["OLLAMA_MODELS"]) if environ.get("OLLAMA_MODELS") else \
        home / ".ollama" / "models"


def probe(runtime: OllamaRuntime) -> tuple[str | None, ModelInfo | None]:
    """The binary's version and the model's metadata, from a server of our own (defaults)."""
    from velollm.backends.ollama.client import OllamaClient
    from velollm.backends.ollama.modelinfo import gather

    with tune_run.serve(runtime, {}, "probe") as server:
        client = OllamaClient(server.base_url, retries=0)
        try:
            version = client.version() or None
            names = {t.name for t in client.tags()}
        finally:
            client.close()
        if runtime.model not in names and f"{runtime.model}:latest" not in names:
            raise UsageError(f"the model {runtime.model} is not in {runtime.models_dir}",
                             hint=f"pull it with `ollama pull {runtime.model}`, or give "
                                  "another with --model (see `ollama list`)")
        facts = gather([runtime.model], server.base_url)
    return version, facts.infos[0] if facts.infos else None


def _which(name: str) -> Path | None:
    found = shutil.which(name)
    return None if found is None else Path(found)
