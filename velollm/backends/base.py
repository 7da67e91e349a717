"""The seam every inference server plugs into: what a backend provides, as a Protocol.

A backend is a folder, velollm/backends/<name>/, whose package exposes one object that satisfies
`Backend`, listed once in velollm/backends/__init__.py (the way pre-commit's all_languages.py lists
its languages). Commands reach server-specific knowledge only through it; the pure core is handed
the values it returns (`Capabilities`, `ModelInfo`, settings) and imports no backend.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

# What render returns lives in the pure core, because the Plan carries it to apply.
from velollm.core.files import RenderedFile
from velollm.errors import VelollmError

if TYPE_CHECKING:
    from velollm.backends.wire import ServerClient, StreamFormat
    from velollm.bench.runner import ScenarioResult
    from velollm.bench.suites import Suite
    from velollm.core.effect import Effect, ModelEffect
    from velollm.core.facts import Capabilities
    from velollm.core.hardware import Hardware
    from velollm.core.models import ModelInfo
    from velollm.core.optimizer import DesiredInput, Settings
    from velollm.core.planner import ParamValue
    from velollm.core.speculation import Advice, Row
    from velollm.core.tune_space import Candidate, Space
    from velollm.core.workload import Workload
    from velollm.io.state import State


@dataclass(frozen=True)
class ModelFacts:
    """Model metadata for the memory model, and what the server said while we asked."""

    infos: tuple[ModelInfo, ...] = ()
    server_version: str | None = None
    reachable: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observed:
    """A value a setting has now, and where it comes from."""

    value: str
    source: str  # "running server (pid 1234)", "systemd drop-in /etc/...", "shell environment"


@dataclass(frozen=True)
class ServerProcess:
    pid: int
    cmdline: tuple[str, ...]
    environ: Mapping[str, str] | None  # None: not readable (another user's process without root)


@dataclass(frozen=True)
class Verification:
    """What verify found on the running server, for its report and the JSON twin."""

    effects: tuple[Effect, ...]
    # pid, managed_by, restarted_since_apply, log, and facts only this backend has
    server: Mapping[str, object]
    loaded_models: tuple[Mapping[str, object], ...]
    notes: tuple[str, ...]
    model_effects: tuple[ModelEffect, ...] = ()  # per-model parameters (Modelfiles)


@dataclass(frozen=True)
class SpeculativeRequest:
    """`velollm benchmark --speculative`: what to sweep, on servers the backend starts itself."""

    model: Path | None  # the target model file (None: the backend's configured one)
    binary: Path | None  # the server binary (None: the configured one, else PATH)
    drafts: tuple[Path, ...] = ()  # draft models (none: look beside the target)
    types: tuple[str, ...] = ()  # speculation types (none: every default the build supports)
    draft_max: tuple[int, ...] = (3, 8)
    draft_threads: tuple[int, ...] = ()
    draft_gpu_layers: tuple[str, ...] = ()
    reps: int = 3
    n_predict: int = 128
    threads: int | None = None  # None: the server's default
    side_by_side: bool | None = None  # None: when every candidate's server fits in memory
    workdir: Path = Path(".")  # server logs


@dataclass(frozen=True)
class SpeculativeSweep:
    rows: tuple[Row, ...]  # the baseline (no speculation) first
    advice: Advice
    refused: tuple[tuple[str, str], ...]  # (draft, why it cannot draft for the target)
    server: Mapping[str, str]  # binary, build, model, how the candidates ran
    pins: Mapping[str, object]  # velollm.yaml server keys that apply the advice


class SpeculationUnsupported(VelollmError):
    """The backend has nothing to sweep; `velollm benchmark --speculative` says why, exit 0."""


@dataclass(frozen=True)
class TuneRequest:
    """`velollm tune`: the workload, and the server and model to tune (None: the configured)."""

    workload: Workload
    hardware: Hardware
    workdir: Path  # server logs
    model: Path | None = None
    binary: Path | None = None
    model_names: tuple[str, ...] = ()  # velollm.yaml's models: (Ollama tunes the first)


class Tuning(Protocol):
    """What `velollm tune` needs of a backend: its search space, what never runs, a fresh server
    per candidate, and the candidates it is compared with."""

    @property
    def space(self) -> Space: ...
    @property
    def described(self) -> Mapping[str, str]: ...  # binary, model, build: for the report
    def prune(self, candidate: Candidate) -> str | None: ...
    # a fresh server with the candidate; the callable runs one round and returns its score
    def launch(self, candidate: Candidate
               ) -> AbstractContextManager[Callable[[], float | None]]: ...
    def rule_based(self) -> Candidate: ...  # velollm's rule-based choice ({}: the defaults)
    def pins(self, candidate: Candidate) -> dict[str, object]: ...  # as velollm.yaml server:
    # its model parameters as velollm.yaml models[] entries: model name -> parameters
    def model_pins(self, candidate: Candidate) -> dict[str, dict[str, object]]: ...


class TuningUnsupported(VelollmError):
    """The backend cannot be tuned (yet); `velollm tune` says why."""


class Backend(Protocol):
    """Everything server-specific. Names are the backend's own (environment variables, flags)."""

    @property
    def name(self) -> str: ...  # the value of `backend:` in velollm.yaml
    @property
    def title(self) -> str: ...  # as users know it: "Ollama"
    @property
    def target_kinds(self) -> tuple[str, ...]: ...  # where its server settings can be written

    # -- the knob catalogue ---------------------------------------------------------------------
    def server_keys(self) -> frozenset[str]: ...
    def model_keys(self) -> frozenset[str]: ...
    def value_problem(self, key: str, value: object) -> str | None: ...
    def unknown_server_key(self, key: str) -> str | None: ...  # advice for a key it lacks
    # velollm.yaml's schema for this backend: the shipped one with its server/models sections
    def config_schema(self, shipped: Mapping[str, Any]) -> dict[str, Any]: ...
    def setting_name(self, key: str) -> str: ...  # knob key -> the name in the file: OLLAMA_X
    def setting_value(self, key: str, value: object) -> str: ...  # the exact string to write
    # a model parameter's value to write: a string, or a tuple for a list (stop sequences)
    def param_value(self, key: str, value: object) -> ParamValue: ...
    def capabilities(self, version: str | None) -> Capabilities: ...
    def trap_warnings(self, server: Mapping[str, object], version: str | None) -> list[str]: ...
    def security_warnings(self, settings: Mapping[str, str]) -> list[str]: ...

    # -- the server: where it is, what it runs with, its models ------------------------------------
    # --host, else its env, else its default; a --host it cannot use raises UsageError
    def base_url(self, host: str | None) -> str: ...
    def installed_version(self, hardware: Hardware) -> str | None: ...
    def managed_by(self, hardware: Hardware) -> str: ...  # systemd | launchd | app | none
    def model_facts(self, names: Iterable[str], base_url: str | None) -> ModelFacts: ...
    def settings_now(self, base_url: str) -> dict[str, Observed]: ...
    # this backend bound to velollm.yaml's server section (llama.cpp's binary, host and model
    # files live there); a backend that needs nothing from it returns itself
    def for_config(self, server: Mapping[str, object]) -> Backend: ...
    # hardware + desired state + model metadata -> settings, each value with a reason
    def recommend(self, hardware: Hardware, desired: DesiredInput, infos: Sequence[ModelInfo],
                  caps: Capabilities) -> Settings: ...

    # -- targets: render and read back ----------------------------------------------------------
    def auto_target(self, hardware: Hardware | None) -> str: ...  # None: this machine, probed
    # unset: names velollm set before and no longer wants (in state); a target that a server
    # may inherit old values through (a sourced shell file) unsets them, the others leave them out
    def render(self, kind: str, settings: Mapping[str, str], *, path: Path | None,
               models: Mapping[str, Mapping[str, ParamValue]],
               unset: Collection[str] = ()) -> list[RenderedFile]: ...
    def read_back(self, kind: str, text: str
                  ) -> tuple[dict[str, str], dict[str, dict[str, ParamValue]]]: ...
    def reach_warnings(self, kind: str, hardware: Hardware, settings: Mapping[str, str],
                       observed: Sequence[Mapping[str, str]]) -> list[str]: ...

    # -- verify ---------------------------------------------------------------------------------
    def client(self, base_url: str) -> ServerClient: ...
    # the streaming request of the asynchronous load generator (benchmark --load)
    def stream_format(self) -> StreamFormat: ...
    # retired: settings velollm set before and no longer wants (reported when still in force)
    def verify(self, state: State, wanted: Mapping[str, str], target: str, client: ServerClient,
               version: str | None, *, log_path: Path | None,
               models: Mapping[str, Mapping[str, ParamValue]],
               retired: Collection[str] = ()) -> Verification: ...

    # -- speculative decoding: candidates measured on fresh servers, or SpeculationUnsupported --
    def speculative(self, request: SpeculativeRequest,
                    progress: Callable[[str], None]) -> SpeculativeSweep: ...
    # -- tuning: candidates measured on fresh servers, or TuningUnsupported ---------------------
    def tuning(self, request: TuneRequest) -> Tuning: ...

@runtime_checkable
class BenchEngines(Protocol):
    """A backend that can also measure with its runtime's own tool, without the server
    (llama.cpp: llama-bench): `velollm benchmark --engine NAME`."""

    def bench_engines(self) -> tuple[str, ...]: ...
    # settings: the LLAMA_ARG_*-style values to measure with (what velollm last applied);
    # returns (results, the benchmark document), as a server benchmark does
    def bench_engine(self, engine: str, *, model: str | None, suite: Suite,
                     settings: Mapping[str, str]
                     ) -> tuple[list[ScenarioResult], dict[str, Any]]: ...
