"""Ollama as a velollm backend: the `Backend` protocol over this folder's modules.

Everything here delegates; the knowledge lives in knobs.py/knobdata.py (what each version reads),
current.py (the running server and its service), modelinfo.py (/api/show), targets.py (where the
settings go), logs.py and evidence.py (did they take effect), client.py (the HTTP API).
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
    Verification,
)
from velollm.backends.ollama import knobs
from velollm.backends.ollama.names import SYSTEMD_UNIT
from velollm.io import systemd

if TYPE_CHECKING:
    from velollm.backends.ollama.client import OllamaClient
    from velollm.backends.wire import ServerClient, StreamFormat
    from velollm.core.facts import Capabilities
    from velollm.core.files import RenderedFile
    from velollm.core.hardware import Hardware
    from velollm.core.models import ModelInfo
    from velollm.core.optimizer import DesiredInput, Settings
    from velollm.core.planner import ParamValue
    from velollm.io.state import State

# Where the systemd target writes (read after a drop-in whose name sorts earlier).
SYSTEMD_DROPIN = str(systemd.dropin_dir(SYSTEMD_UNIT) / "velollm.conf")


class OllamaBackend:
    name = "ollama"
    title = "Ollama"
    target_kinds = ("shell", "fish", "systemd", "systemd-user", "launchd")

    # -- the knob catalogue ---------------------------------------------------------------------
    def server_keys(self) -> frozenset[str]:
        return frozenset(knobs.SERVER_KNOBS)

    def model_keys(self) -> frozenset[str]:
        return frozenset(knobs.MODEL_KNOBS)

    def value_problem(self, key: str, value: object) -> str | None:
        return knobs.value_problem(key, value)

    def unknown_server_key(self, key: str) -> str | None:
        """Names people believe are knobs, and variable names written where a key belongs."""
        lower = key.lower().removeprefix("ollama_")
        if key in knobs.NOT_KNOBS or lower in knobs.NOT_KNOBS:
            return knobs.NOT_KNOBS.get(key, knobs.NOT_KNOBS.get(lower, ""))
        if lower != key and lower in knobs.SERVER_KNOBS:
            return f"write knob names without OLLAMA_, in lower case: {lower}"
        return None

    def config_schema(self, shipped: Mapping[str, Any]) -> dict[str, Any]:
        """The shipped schemas/velollm.schema.json describes Ollama's sections already."""
        return dict(shipped)

    def setting_name(self, key: str) -> str:
        return knobs.SERVER_KNOBS[key].env

    def setting_value(self, key: str, value: object) -> str:
        return knobs.env_value(key, value)

    def param_value(self, key: str, value: object) -> ParamValue:
        return knobs.param_value(key, value)

    def capabilities(self, version: str | None) -> Capabilities:
        return knobs.capabilities(version)

    def trap_warnings(self, server: Mapping[str, object], version: str | None) -> list[str]:
        return knobs.trap_warnings(dict(server), version)

    def security_warnings(self, settings: Mapping[str, str]) -> list[str]:
        from velollm.backends.ollama.host import is_loopback, parse_host

        out: list[str] = []
        host = settings.get("OLLAMA_HOST")
        if host is not None and not is_loopback(parse_host(host)):
            out.append(f"OLLAMA_HOST={host} listens beyond this machine: Ollama's API "
                       "has no authentication, so anyone who can reach the port can use and "
                       "delete your models; bind 127.0.0.1 or put an authenticating proxy in front")
        if any(o.strip() == "*" for o in settings.get("OLLAMA_ORIGINS", "").split(",")):
            out.append("OLLAMA_ORIGINS=* lets every web page you open call your Ollama API; "
                       "list the origins you need instead")
        return out

    # -- the server ------------------------------------------------------------------------------
    def base_url(self, host: str | None) -> str:
        """--host, else OLLAMA_HOST, else Ollama's default, read with Ollama's own rules.

        Those rules quietly replace a bad port or bracket with a default; a --host the user
        typed is checked first instead, so a typo is a usage error, not some other server.
        """
        from velollm.backends.ollama.host import host_problem, parse_host
        from velollm.errors import UsageError, VelollmError

        if host is not None:
            problem = host_problem(host)
            if problem is not None:
                raise UsageError(f"invalid --host {host!r}: {problem}; give 127.0.0.1:11434, "
                                 "http://host:port or https://host")
            return parse_host(host)
        env = os.environ.get("OLLAMA_HOST")
        url = parse_host(env)
        if not url.startswith(("http://", "https://")):  # Ollama's own client fails on it too
            raise VelollmError(f"OLLAMA_HOST={env} is not an http:// or https:// address",
                               hint="fix OLLAMA_HOST, or give the server with --host URL")
        return url

    def installed_version(self, hardware: Hardware) -> str | None:
        return hardware.ollama.server_version or hardware.ollama.version

    def managed_by(self, hardware: Hardware) -> str:
        return hardware.ollama.managed_by

    def model_facts(self, names: Iterable[str], base_url: str | None) -> ModelFacts:
        from velollm.backends.ollama.modelinfo import gather

        found = gather(names, base_url)
        return ModelFacts(tuple(found.infos), found.server_version, found.reachable,
                          tuple(found.notes))

    def settings_now(self, base_url: str) -> dict[str, Observed]:
        from velollm.backends.ollama.current import read_current

        names = [k.env for k in knobs.SERVER_KNOBS.values()]
        return read_current(known_names=names, base_url=base_url).effective()

    def for_config(self, server: Mapping[str, object]) -> OllamaBackend:  # noqa: ARG002
        return self  # Ollama's server section holds knobs only

    def recommend(self, hardware: Hardware, desired: DesiredInput, infos: Sequence[ModelInfo],
                  caps: Capabilities) -> Settings:
        from velollm.core.optimizer import recommend

        return recommend(hardware, desired, infos, caps)

    # -- targets ---------------------------------------------------------------------------------
    def auto_target(self, hardware: Hardware | None) -> str:
        """systemd where ollama.service exists, launchd on macOS, a shell file otherwise; for
        another machine (`--hardware FILE`) from its document, else probed here."""
        from velollm.backends.ollama import targets

        if hardware is None:
            return targets.auto_target(targets.detect_facts())
        return targets.auto_target(targets.PlatformFacts(
            hardware.os.system, hardware.ollama.managed_by == "systemd"))

    def render(self, kind: str, settings: Mapping[str, str], *, path: Path | None,
               models: Mapping[str, Mapping[str, ParamValue]],
               unset: Collection[str] = ()) -> list[RenderedFile]:
        import shutil

        from velollm.backends.ollama.targets import render_target

        # the user unit starts the binary found here at plan time (systemd's PATH is short)
        ollama = shutil.which("ollama") if kind == "systemd-user" else None
        rendered = render_target(kind, settings, path=path, unset=unset, ollama=ollama)
        if models:
            rendered += render_target("modelfile", {}, models=models)
        return rendered

    def read_back(self, kind: str, text: str
                  ) -> tuple[dict[str, str], dict[str, dict[str, ParamValue]]]:
        from velollm.io import readback

        if kind == "modelfile":
            model, params = readback.parse_modelfile(text)
            return {}, ({model: params} if model else {})
        # knobs whose variable has no OLLAMA_ prefix (CUDA_VISIBLE_DEVICES, HTTPS_PROXY, ...) too
        known = {k.env for k in knobs.SERVER_KNOBS.values()}
        return {k: v for k, v in readback.parse_env_file(kind, text).items()
                if k.startswith("OLLAMA_") or k in known}, {}

    def reach_warnings(self, kind: str, hardware: Hardware, settings: Mapping[str, str],
                       observed: Sequence[Mapping[str, str]]) -> list[str]:
        """Settings that would be written where the server never looks, or be overridden."""
        out: list[str] = []
        managed = hardware.ollama.managed_by
        if kind in ("shell", "fish") and managed == "systemd":
            out.append(f"Ollama runs as the systemd service ollama.service, which never reads a "
                       f"{kind} file: use `--target systemd` (with sudo) so the service gets them")
        if kind in ("shell", "fish") and managed in ("app", "launchd"):
            out.append(f"Ollama.app never reads a {kind} file: use `--target launchd`")
        if kind == "systemd-user" and managed == "systemd":
            out.append("the system service ollama.service runs Ollama too and holds its port: "
                       "stop it (`sudo systemctl disable --now ollama`) before the user unit "
                       "starts, or use `--target systemd`")
        if kind == "systemd-user" and managed in ("app", "launchd"):
            out.append("systemd --user units run on Linux only: use `--target launchd`")
        ours = f"systemd drop-in {SYSTEMD_DROPIN}"
        for o in observed:
            later_dropin = o["source"].startswith("systemd drop-in") and o["source"] > ours
            if o["env"] in settings and kind == "systemd" and later_dropin:
                out.append(f"{o['env']}={o['value']} in {o['source']} is read after velollm's "
                           f"drop-in and overrides {settings[o['env']]}: remove it there")
        return out

    # -- verify ----------------------------------------------------------------------------------
    def stream_format(self) -> StreamFormat:
        from velollm.backends.ollama.streamfmt import OllamaStream

        return OllamaStream()

    def client(self, base_url: str) -> OllamaClient:
        from velollm.backends.ollama.client import OllamaClient

        return OllamaClient(base_url, find_pid=_server_pid)

    def verify(self, state: State, wanted: Mapping[str, str], target: str, client: ServerClient,
               version: str | None, *, log_path: Path | None,
               models: Mapping[str, Mapping[str, ParamValue]],
               retired: Collection[str] = ()) -> Verification:
        from velollm.backends.ollama import evidence, modelparams
        from velollm.core.effect import check_removed

        g = evidence.gather(state, wanted, target, client.base_url, log_path=log_path,
                            loaded=client.ps())
        effects = [*evidence.check(wanted, g, version), *check_removed(retired, g.evidence)]
        model_effects = modelparams.check(models, modelparams.gather(state, models, client,
                                                                     g.loaded))
        server: dict[str, object] = {
            "pid": None if g.process is None else g.process.pid,
            "managed_by": g.evidence.server_managed_by,
            "restarted_since_apply": g.evidence.restarted_since_apply,
            "log": None if g.log_path is None else str(g.log_path),
            "runner_parallel": g.runner_parallel,
            "runner": None if g.runner is None else g.runner.as_dict()}
        loaded = tuple({"name": m.name, "expires_at": m.expires_at,
                        "context_length": m.context_length} for m in g.loaded)
        return Verification(tuple(effects), server, loaded, g.notes, tuple(model_effects))

    def speculative(self, request: SpeculativeRequest,  # noqa: ARG002 - nothing to sweep
                    progress: Callable[[str], None]) -> SpeculativeSweep:  # noqa: ARG002
        raise SpeculationUnsupported(
            "Ollama has no server setting for speculative decoding to sweep: Ollama 0.5.4 has "
            "none, and Ollama >= 0.30 drafts only with a draft head built into the model "
            "(the model parameter draft_num_predict)",
            hint="to measure speculative decoding, run llama-server: "
                 "`velollm benchmark --speculative --backend llamacpp --model FILE.gguf`")


    def tuning(self, request: TuneRequest) -> Tuning:
        from velollm.backends.ollama import tuning
        from velollm.core.optimizer import DesiredInput

        def rules(info: ModelInfo | None, caps: Capabilities
                  ) -> tuple[dict[str, object], dict[str, object]]:
            settings = self.recommend(request.hardware, DesiredInput(), [info] if info else [],
                                      caps)
            return settings.server_env(), settings.model_params(info.name) if info else {}

        return tuning.tuning(request, rules)


def _server_pid(base_url: str) -> int | None:
    """The `ollama serve` process serving base_url on this machine (None: not visible)."""
    from velollm.backends.ollama.current import find_server_processes, match_server

    process = match_server(find_server_processes(), base_url)
    return None if process is None else process.pid


BACKEND = OllamaBackend()
