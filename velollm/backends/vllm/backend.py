"""vLLM's OpenAI-compatible server as a velollm backend: the `Backend` protocol over this folder.

knobs.py/knobdata.py: what `vllm serve` reads; install.py: the executable and its version;
targets.py: where settings go; modelinfo.py: config.json; optimize.py: the recommendation
(core/vllm_memory.py: the block budget); client.py: /version, /v1/models, /metrics and
streaming completions; current.py and verify.py: the running server.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velollm.backends.base import (
    ModelFacts,
    Observed,
    SpeculationUnsupported,
    SpeculativeRequest,
    SpeculativeSweep,
    TuneRequest,
    Tuning,
    TuningUnsupported,
    Verification,
)
from velollm.backends.vllm import knobs, schema
from velollm.backends.vllm.knobdata import KNOBS, NOT_KNOBS

if TYPE_CHECKING:
    from velollm.backends.wire import ServerClient, StreamFormat
    from velollm.core.facts import Capabilities
    from velollm.core.files import RenderedFile
    from velollm.core.hardware import Hardware
    from velollm.core.models import ModelInfo
    from velollm.core.optimizer import DesiredInput, Settings
    from velollm.core.planner import ParamValue
    from velollm.io.state import State

DEFAULT_PORT = 8000
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class VllmBackend:
    name = "vllm"
    title = "vLLM"
    target_kinds = schema.TARGET_KINDS

    def __init__(self, server: Mapping[str, object] | None = None) -> None:
        self._server = dict(server or {})  # velollm.yaml's server: (model, binary, image, knobs)

    def for_config(self, server: Mapping[str, object]) -> VllmBackend:
        return VllmBackend(server)

    def _meta(self, key: str) -> str | None:
        value = self._server.get(key)
        return value if isinstance(value, str) else None

    # -- the knob catalogue ---------------------------------------------------------------------
    def server_keys(self) -> frozenset[str]:
        return knobs.USER_KEYS

    def model_keys(self) -> frozenset[str]:
        return frozenset()

    def value_problem(self, key: str, value: object) -> str | None:
        return knobs.value_problem(key, value)

    def unknown_server_key(self, key: str) -> str | None:
        if key in NOT_KNOBS:
            return NOT_KNOBS[key]
        by_name = {**{k.env: k.key for k in KNOBS.values() if k.env},
                   **{f: k.key for k in KNOBS.values() for f in k.flags}}
        if key in by_name:
            return f"write the knob's name, not its spelling: {by_name[key]}"
        if key.replace("-", "_") in KNOBS:
            return f"write {key.replace('-', '_')}"
        return None

    def config_schema(self, shipped: Mapping[str, Any]) -> dict[str, Any]:
        return schema.config_schema(shipped)

    def setting_name(self, key: str) -> str:
        return KNOBS[key].name

    def setting_value(self, key: str, value: object) -> str:
        return knobs.setting_value(key, value)

    def param_value(self, key: str, value: object) -> ParamValue:  # noqa: ARG002
        return str(value)

    def capabilities(self, version: str | None) -> Capabilities:
        return knobs.capabilities(version)

    def trap_warnings(self, server: Mapping[str, object], version: str | None) -> list[str]:
        return knobs.trap_warnings(server, version)

    def security_warnings(self, settings: Mapping[str, str]) -> list[str]:
        host = settings.get("--host")
        keyed = "VLLM_API_KEY" in settings
        if (host is None or host not in _LOOPBACK) and not keyed:
            where = f"--host {host}" if host else "no --host (vLLM then binds every interface)"
            return [(f"{where} listens beyond this machine and no api_key is set: anyone who "
                    "can reach the port can use the model; set host: 127.0.0.1 or an api_key")]
        if keyed:
            return [("api_key guards only /v1 (and /v2, /inference): /metrics, /health and "
                    "/version stay open to whoever reaches the port")]
        return []

    # -- the server ------------------------------------------------------------------------------
    def base_url(self, host: str | None) -> str:
        from velollm.backends.vllm.address import base_url

        if host is not None:
            return base_url(host)
        bind = self._server.get("host")
        port = self._server.get("port", DEFAULT_PORT)
        return base_url(f"{bind if isinstance(bind, str) else '127.0.0.1'}:{port}")

    def installed_version(self, hardware: Hardware) -> str | None:  # noqa: ARG002
        from velollm.backends.vllm.install import installed_version

        return installed_version(self._meta("binary"))

    def managed_by(self, hardware: Hardware) -> str:  # noqa: ARG002
        from velollm.backends.vllm.install import managed_by

        return managed_by()

    def model_facts(self, names: Iterable[str], base_url: str | None) -> ModelFacts:  # noqa: ARG002
        from velollm.backends.vllm.modelinfo import gather

        infos, notes = gather(self._meta("model"))
        version = None if base_url is None else _server_version(base_url)
        return ModelFacts(tuple(infos), version, version is not None or bool(infos),
                          tuple(notes))

    def settings_now(self, base_url: str) -> dict[str, Observed]:
        from velollm.backends.vllm.current import settings_now

        return settings_now(base_url)

    def recommend(self, hardware: Hardware, desired: DesiredInput,
                  infos: Sequence[ModelInfo], caps: Capabilities) -> Settings:
        from velollm.backends.vllm.optimize import recommend

        return recommend(hardware, desired, infos, caps)

    # -- targets ---------------------------------------------------------------------------------
    def auto_target(self, hardware: Hardware | None) -> str:
        from velollm.backends.vllm.install import managed_by
        from velollm.backends.vllm.targets import auto_target

        return auto_target(hardware is None and managed_by() == "systemd")

    def render(self, kind: str, settings: Mapping[str, str], *, path: Path | None,
               models: Mapping[str, Mapping[str, ParamValue]],  # noqa: ARG002
               unset: Collection[str] = ()) -> list[RenderedFile]:
        from velollm.backends.vllm.install import start_command
        from velollm.backends.vllm.targets import IMAGE, render_target

        return render_target(kind, settings, path=path, home=Path(os.path.expanduser("~")),
                             start=start_command(self._meta("binary")),
                             model=self._meta("model"), image=self._meta("image") or IMAGE,
                             unset=unset)

    def read_back(self, kind: str, text: str
                  ) -> tuple[dict[str, str], dict[str, dict[str, ParamValue]]]:
        from velollm.backends.vllm.targets import read_back

        return read_back(kind, text), {}

    def reach_warnings(self, kind: str, hardware: Hardware,  # noqa: ARG002
                       settings: Mapping[str, str],
                       observed: Sequence[Mapping[str, str]]) -> list[str]:  # noqa: ARG002
        from velollm.backends.vllm.install import managed_by

        out: list[str] = []
        if kind == "env" and any(n.startswith("--") for n in settings):
            out.append("the env target holds only the VLLM_* variables: vLLM reads "
                       f"{', '.join(sorted(n for n in settings if n.startswith('--')))} only "
                       "from its command line; use systemd-unit, systemd or compose")
        if kind == "compose" and settings.get("--host") in _LOOPBACK:
            out.append(f"--host {settings['--host']} inside the container cannot be reached "
                       "through the published port: leave host unset for compose (the port "
                       "is published on 127.0.0.1 only)")
        if kind == "systemd-unit" and managed_by() == "systemd":
            out.append("vLLM already runs as the system service vllm.service: use `--target "
                       "systemd` (with sudo) or two servers will want the same port")
        return out

    # -- verify ----------------------------------------------------------------------------------
    def stream_format(self) -> StreamFormat:
        from velollm.backends.vllm.streamfmt import VllmStream

        return VllmStream()

    def speculative(self, request: SpeculativeRequest,  # noqa: ARG002 - nothing to sweep
                    progress: Callable[[str], None]) -> SpeculativeSweep:  # noqa: ARG002
        raise SpeculationUnsupported(
            "velollm measures speculative decoding on llama-server only; vLLM's is set with "
            "speculative_config", hint="`velollm benchmark --load ...` measures a vLLM server "
            "with and without it")

    def tuning(self, request: TuneRequest) -> Tuning:  # noqa: ARG002 - not built yet
        raise TuningUnsupported("velollm tune measures llama-server and Ollama so far; for "
                                "vLLM it is not built yet",
                                hint="velollm plan's choice from the block-based memory model "
                                     "applies; `velollm benchmark --load sweep` measures it")

    def client(self, base_url: str) -> ServerClient:
        from velollm.backends.vllm.client import VllmClient
        from velollm.backends.vllm.current import server_pid

        return VllmClient(base_url, find_pid=server_pid)

    def verify(self, state: State, wanted: Mapping[str, str], target: str, client: ServerClient,
               version: str | None, *, log_path: Path | None,
               models: Mapping[str, Mapping[str, ParamValue]],  # noqa: ARG002
               retired: Collection[str] = ()) -> Verification:
        from velollm.backends.vllm.verify import verify

        return verify(state, wanted, target, client, version, log_path=log_path,
                      retired=retired)


def _server_version(base_url: str) -> str | None:
    from velollm.backends.vllm.client import VllmClient
    from velollm.errors import VelollmError

    client = VllmClient(base_url, connect_timeout=1.0, read_timeout=5.0)
    try:
        return client.version()
    except VelollmError:
        return None
    finally:
        client.close()


BACKEND = VllmBackend()
