"""llama.cpp's llama-server as a velollm backend: the `Backend` protocol over this folder.

knobs.py/knobdata.py: what each build reads; install.py: binaries and builds; targets.py: where
settings go; modelinfo.py: GGUF metadata; optimize.py: the recommendation. The running server
(current.py, client.py, verify.py) is read by the modules of the same names.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from velollm.backends.base import ModelFacts, Observed, Verification
from velollm.backends.llamacpp import knobs, schema
from velollm.backends.llamacpp.knobdata import KNOBS, NOT_KNOBS

if TYPE_CHECKING:
    from velollm.backends.wire import ServerClient
    from velollm.core.facts import Capabilities
    from velollm.core.files import RenderedFile
    from velollm.core.hardware import Hardware
    from velollm.core.models import ModelInfo
    from velollm.core.optimizer import DesiredInput, Settings
    from velollm.core.planner import ParamValue
    from velollm.io.state import State

DEFAULT_HOST = "127.0.0.1:8080"


class LlamaCppBackend:
    name = "llamacpp"
    title = "llama.cpp"
    target_kinds = schema.TARGET_KINDS

    def __init__(self, server: Mapping[str, object] | None = None) -> None:
        self._server = dict(server or {})  # velollm.yaml's server: (binary, host, models)

    def for_config(self, server: Mapping[str, object]) -> LlamaCppBackend:
        """This backend bound to velollm.yaml's server section: its binary, host and models."""
        return LlamaCppBackend(server)

    @property
    def _binary(self) -> str | None:
        value = self._server.get("binary")
        return value if isinstance(value, str) else None

    # -- the knob catalogue ---------------------------------------------------------------------
    def server_keys(self) -> frozenset[str]:
        return knobs.USER_KEYS

    def model_keys(self) -> frozenset[str]:
        return frozenset()

    def value_problem(self, key: str, value: object) -> str | None:
        return knobs.value_problem(key, value)

    def unknown_server_key(self, key: str) -> str | None:
        lower = key.lower().removeprefix("llama_arg_")
        if key in NOT_KNOBS or lower in NOT_KNOBS:
            return NOT_KNOBS.get(key, NOT_KNOBS.get(lower, ""))
        by_env = {k.env: k.key for k in KNOBS.values() if k.env}
        if key in by_env:
            return f"write the knob's name, not its variable: {by_env[key]}"
        return None

    def config_schema(self, shipped: Mapping[str, Any]) -> dict[str, Any]:
        return schema.config_schema(shipped)

    def setting_name(self, key: str) -> str:
        env = KNOBS[key].env
        if env is None:
            raise KeyError(f"{key} has no LLAMA_ARG_ variable")
        return env

    def setting_value(self, key: str, value: object) -> str:
        return knobs.env_value(key, value)

    def param_value(self, key: str, value: object) -> ParamValue:  # noqa: ARG002
        return str(value)

    def capabilities(self, version: str | None) -> Capabilities:
        return knobs.capabilities(version)

    def trap_warnings(self, server: Mapping[str, object], version: str | None) -> list[str]:
        return knobs.trap_warnings(dict(server), version)

    def security_warnings(self, settings: Mapping[str, str]) -> list[str]:
        host = settings.get("LLAMA_ARG_HOST", "127.0.0.1")
        loopback = {"127.0.0.1", "localhost", "::1"}
        if any(h.strip() not in loopback and not h.strip().endswith(".sock")
               for h in host.split(",")):
            return [(f"LLAMA_ARG_HOST={host} listens beyond this machine: llama-server needs "
                     "no API key unless --api-key is set, so anyone who can reach the port can "
                     "use it; bind 127.0.0.1 or set an API key")]
        return []

    # -- the server ------------------------------------------------------------------------------
    def base_url(self, host: str | None) -> str:
        from velollm.backends.llamacpp.address import host_url

        return host_url(host if host is not None else self._configured_host())

    def _configured_host(self) -> str:
        host = self._server.get("host")
        if isinstance(host, str):
            return host
        env_host, env_port = os.environ.get("LLAMA_ARG_HOST"), os.environ.get("LLAMA_ARG_PORT")
        if env_host or env_port:
            return f"{env_host or '127.0.0.1'}:{env_port or '8080'}"
        return DEFAULT_HOST

    def installed_version(self, hardware: Hardware) -> str | None:  # noqa: ARG002
        from velollm.backends.llamacpp.install import probe

        return probe("llama-server", self._binary).build

    def managed_by(self, hardware: Hardware) -> str:  # noqa: ARG002
        from velollm.backends.llamacpp.install import managed_by

        return managed_by()

    def model_facts(self, names: Iterable[str], base_url: str | None) -> ModelFacts:
        """From the GGUF files of server.models (and any name that is a .gguf path); the server
        is not asked: its /props describe only the model it has loaded now."""
        from velollm.backends.llamacpp.modelinfo import gather, model_paths

        entries = model_paths(self._server.get("models"))
        entries += [(Path(os.path.expanduser(n)), Path(n).stem) for n in names
                    if n.endswith(".gguf")]
        infos, notes = gather(entries)
        version = None if base_url is None else _server_version(base_url)
        # `reachable` tells plan its sizes are not estimates: here they are read from the files
        read_all = bool(entries) and len(infos) == len(entries)
        return ModelFacts(tuple(infos), version, version is not None or read_all, tuple(notes))

    def settings_now(self, base_url: str) -> dict[str, Observed]:
        current = _h11server("current")
        return {} if current is None else dict(current.settings_now(base_url, knobs.FLAG_ENV))

    def recommend(self, hardware: Hardware, desired: DesiredInput,
                  infos: Sequence[ModelInfo], caps: Capabilities) -> Settings:
        from velollm.backends.llamacpp.optimize import recommend

        return recommend(hardware, desired, infos, caps)

    # -- targets ---------------------------------------------------------------------------------
    def auto_target(self, hardware: Hardware | None) -> str:
        from velollm.backends.llamacpp.install import managed_by
        from velollm.backends.llamacpp.targets import auto_target

        if hardware is None:
            return auto_target(sys.platform, managed_by() == "systemd")
        return auto_target(hardware.os.system, False)

    def render(self, kind: str, settings: Mapping[str, str], *, path: Path | None,
               models: Mapping[str, Mapping[str, ParamValue]],
               unset: Collection[str] = ()) -> list[RenderedFile]:
        from velollm.backends.llamacpp.install import find_tool
        from velollm.backends.llamacpp.targets import render_target

        binary = find_tool("llama-server", self._binary) if kind == "systemd-user" else None
        # a removed argument's variable left in a shell stops llama-server from starting
        gone = {*unset, *(knobs.REMOVED_ENV if kind in ("shell", "fish") else ())}
        return render_target(kind, settings, path=path, home=Path(os.path.expanduser("~")),
                             models=models, unset=gone, binary=binary)

    def read_back(self, kind: str, text: str
                  ) -> tuple[dict[str, str], dict[str, dict[str, ParamValue]]]:
        from velollm.backends.llamacpp.targets import read_back

        known = {k.env for k in KNOBS.values() if k.env}
        env, models = read_back(kind, text, known)
        return env, {name: dict(params) for name, params in models.items()}

    def reach_warnings(self, kind: str, hardware: Hardware,  # noqa: ARG002
                       settings: Mapping[str, str],
                       observed: Sequence[Mapping[str, str]]) -> list[str]:
        from velollm.backends.llamacpp.install import managed_by

        out: list[str] = []
        if kind in ("shell", "fish", "systemd-user") and managed_by() == "systemd":
            out.append(f"llama-server runs as the systemd service llama-server.service, which "
                       f"never reads a {kind} file: use `--target systemd` (with sudo)")
        for o in observed:
            if o["env"] in settings and o["source"].startswith("command line"):
                out.append(f"{o['source']} sets {o['env']}={o['value']}: a flag on "
                           "llama-server's command line wins over the variable velollm writes")
        return out

    # -- verify ----------------------------------------------------------------------------------
    def client(self, base_url: str) -> ServerClient:
        module = _h11server("client")
        if module is None:
            raise NotImplementedError("llamacpp/client.py is not merged yet")
        client: ServerClient = module.LlamaServerClient(base_url)
        return client

    def verify(self, state: State, wanted: Mapping[str, str], target: str, client: ServerClient,
               version: str | None, *, log_path: Path | None,
               models: Mapping[str, Mapping[str, ParamValue]],  # noqa: ARG002
               retired: Collection[str] = ()) -> Verification:
        verify = _h11server("verify")
        if verify is None:
            raise NotImplementedError("llamacpp/verify.py is not merged yet")
        result: Verification = verify.verify(state, wanted, target, client, version,
                                             log_path=log_path, flag_env=knobs.FLAG_ENV,
                                             retired=retired)
        return result


def _server_version(base_url: str) -> str | None:
    """The running server's build ("b11669") from /props, else None (down, or not yet merged:
    current.py is h11server's; without it the installed binary's build is used)."""
    current = _h11server("current")
    version: str | None = None if current is None else current.server_version(base_url)
    return version


def _h11server(module: str) -> Any:
    """client.py, current.py and verify.py of this folder (the other half of issue 11); None
    until they are merged. TODO(merge): the one place to drop once they are in."""
    import importlib

    name = f"velollm.backends.llamacpp.{module}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the module is there but something it imports is not
            raise
        return None


BACKEND = LlamaCppBackend()
