"""`velollm tune` on llama-server: the search space for this machine and workload, pruning by
the memory model, fresh servers per candidate (tune_run.py), and velollm's rule-based choice
for the comparison."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from velollm.backends.base import TuneRequest
from velollm.backends.llamacpp import tune_run
from velollm.core.models import ModelInfo
from velollm.core.tune_space import (
    Candidate,
    Space,
    for_workload,
    llama_space,
    pins,
    prune,
)
from velollm.errors import UsageError

# Settings keys of the rule-based recommendation that are dimensions of the search.
_RULE_KEYS = ("parallel", "batch_size", "ubatch_size", "threads", "flash_attention")


@dataclass
class LlamaTuning:
    request: TuneRequest
    binary: Path
    model: Path
    info: ModelInfo | None
    rules: Candidate
    space: Space = field(init=False)

    def __post_init__(self) -> None:
        hw = self.request.hardware
        self.space = llama_space(self.request.workload, hw.cpu.physical_cores or 1, len(hw.gpus))
        self._launch = tune_run.launcher(self.binary, self.model, self.request.workload,
                                         self.request.workdir)

    @property
    def described(self) -> Mapping[str, str]:
        return {"binary": str(self.binary), "model": str(self.model)}

    def prune(self, candidate: Candidate) -> str | None:
        hw = self.request.hardware
        gpus = [g.vram_free_bytes or g.vram_total_bytes or 0 for g in hw.gpus]
        return prune(candidate, self.request.workload, self.info, hw.memory.available_bytes,
                     gpus)

    def launch(self, candidate: Candidate
               ) -> contextlib.AbstractContextManager[Callable[[], float | None]]:
        return self._launch(candidate)

    def rule_based(self) -> Candidate:
        return for_workload(self.rules, "parallel", self.request.workload.concurrency,
                            self.prune)

    def pins(self, candidate: Candidate) -> dict[str, object]:
        return pins(candidate, self.request.workload)

    def model_pins(self, candidate: Candidate  # noqa: ARG002 - no model parameters
                   ) -> dict[str, dict[str, object]]:
        return {}  # every llama-server knob tune tries is a server: pin


def tuning(request: TuneRequest, binary: Path | None, model: Path | None,
           rules: Callable[[ModelInfo | None], Mapping[str, object]]) -> LlamaTuning:
    """Resolve the binary and the model (clear errors), read the model's GGUF header."""
    from velollm.backends.llamacpp.modelinfo import from_gguf

    if binary is None or not binary.is_file():
        raise UsageError("llama-server is not found" if binary is None else
                         f"llama-server binary {binary} does not exist",
                         hint="give it with --binary, or set server.binary in velollm.yaml")
    if model is None or not model.is_file():
        raise UsageError("no model to tune" if model is None else f"the model {model} does not "
                         "exist", hint="give it with --model FILE.gguf, or list it under "
                                       "server.models in velollm.yaml")
    info = from_gguf(model, model.stem)
    chosen = rules(info)
    picked = {k: chosen[k] for k in _RULE_KEYS if chosen.get(k) is not None}
    kv = chosen.get("kv_cache_type_k") or chosen.get("kv_cache_type")
    if kv is not None:
        picked["kv_cache_type"] = kv
    return LlamaTuning(request, binary, model, info, picked)
