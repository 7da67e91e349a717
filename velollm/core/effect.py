"""Did each setting velollm wrote really take effect on the running server? Pure.

Evidence, best first: the running server's own environment (/proc/<pid>/environ), then what its
start-up log says it read (each backend parses its own log into `Evidence.log_config`), and the
log lines with which it says it read a setting and then did not use it. A model's parameters are
checked against what the server says the model has (`ModelEvidence`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from velollm.core import gotypes

if TYPE_CHECKING:
    from velollm.core.planner import ParamValue

Status = Literal["effective", "not effective", "unknown"]


@dataclass(frozen=True)
class Effect:
    env: str
    wanted: str | None  # None: velollm set it before and velollm.yaml no longer wants it
    observed: str | None
    status: Status
    why: str

    def as_dict(self) -> dict[str, str | None]:
        """The row of verify's and status's JSON documents."""
        return {"env": self.env, "wanted": self.wanted, "observed": self.observed,
                "status": self.status, "why": self.why}


def _canonical(text: str) -> str:
    s = text.strip()
    truth = gotypes.parse_bool(s)
    return s.lower() if truth is None else str(truth).lower()


def _same(wanted: str, observed: str) -> bool:
    """Compare as a Go server reads them: bools by truth (strconv.ParseBool), else the text."""
    return _canonical(wanted) == _canonical(observed)


@dataclass(frozen=True)
class Evidence:
    process_env: Mapping[str, str] | None  # None: no server process, or its env is unreadable
    log_config: Mapping[str, str] | None  # parsed `server config` line, None: no log known
    server_managed_by: str  # systemd | launchd | app | none (from detect)
    target_kind: str  # where velollm wrote the settings
    restarted_since_apply: bool | None  # None: unknown
    ignored: Mapping[str, str] = field(default_factory=dict)  # env -> why, from ignored_by_log()


def check_effects(wanted: Mapping[str, str], evidence: Evidence, *,
                  version_reads: Callable[[str], str | None]) -> list[Effect]:
    """`version_reads(env_name)` returns None when the running version reads the variable, or
    the reason it does not (from the knob catalogue)."""
    return [_one(env, value, evidence, version_reads(env)) for env, value in sorted(wanted.items())]


def _one(env: str, value: str, ev: Evidence, not_read: str | None) -> Effect:
    observed = None if ev.process_env is None else ev.process_env.get(env)
    logged = None if ev.log_config is None else ev.log_config.get(env)
    if not_read is not None:
        return Effect(env, value, observed or logged, "not effective", not_read)
    if env in ev.ignored:
        return Effect(env, value, observed or logged, "not effective", ev.ignored[env])
    if ev.process_env is None and ev.log_config is None:
        return Effect(env, value, None, "unknown",
                      "no running `ollama serve` whose environment or log velollm can read")
    if ev.process_env is not None and observed is not None and _same(value, observed):
        if logged is not None and not _same(value, logged):
            return Effect(env, value, logged, "not effective",
                          f"the server has {env}={observed} but parsed it as {logged}")
        return Effect(env, value, observed, "effective", "the running server has this value")
    if ev.process_env is None and logged is not None and _same(value, logged):
        return Effect(env, value, logged, "effective", "the server's start-up log shows it")
    return Effect(env, value, observed if observed is not None else logged, "not effective",
                  _why_missing(env, ev))


def check_removed(names: Iterable[str], evidence: Evidence) -> list[Effect]:
    """Settings velollm set before and velollm.yaml no longer wants, that the running server
    still has: the removal did not take effect. Only the server's own environment can tell (its
    log lists every variable, defaults included), so nothing is said without it."""
    env = evidence.process_env
    if env is None:
        return []
    return [Effect(name, None, env[name], "not effective", _why_still_set(name, evidence))
            for name in sorted(names) if name in env]


def _why_still_set(env: str, ev: Evidence) -> str:
    gone = f"velollm.yaml no longer sets {env}, but the running server has it"
    if ev.restarted_since_apply is False:
        return f"{gone}: it was started before velollm removed it: {_restart(ev)}"
    if ev.target_kind in {"shell", "fish"}:
        return (f"{gone} from the environment that started it (a shell that read an earlier "
                "version of the file, or another profile): restart `ollama serve` from a "
                "shell that sources the file, or remove it where it is set")
    return f"{gone} from outside velollm's file: remove it there and restart the server"


def _restart(ev: Evidence) -> str:
    if ev.target_kind == "systemd-user":  # its cgroup names ollama.service too, under user@
        return "systemctl --user restart ollama"
    return {"systemd": "sudo systemctl restart ollama", "launchd": "restart Ollama.app",
            "app": "restart Ollama.app"}.get(ev.server_managed_by,
                                             "restart `ollama serve` from a shell that "
                                             "sources the file")


def _why_missing(env: str, ev: Evidence) -> str:
    shell_targets = {"shell", "fish"}
    if ev.target_kind in shell_targets and ev.server_managed_by == "systemd":
        return (f"{env} is set in a {ev.target_kind} file, which the systemd service never "
                "reads: use the systemd target")
    if ev.target_kind in shell_targets and ev.server_managed_by in {"app", "launchd"}:
        return (f"{env} is set in a {ev.target_kind} file, which Ollama.app never reads: "
                "use the launchd target")
    if ev.restarted_since_apply is False:
        return f"the server was started before velollm wrote the setting: {_restart(ev)}"
    return "the running server does not have this value"


@dataclass(frozen=True)
class ModelEffect:
    model: str
    parameter: str
    wanted: str
    observed: str | None
    status: Status
    why: str


@dataclass(frozen=True)
class ModelEvidence:
    """What the server says about a model velollm wrote parameters for."""

    shown: Mapping[str, tuple[str, ...]] | None  # the model's parameters; None: no such model
    create_command: str  # what bakes velollm's parameters into the model
    loaded_context: int | None = None  # the loaded model's context, where the server reports it
    replaced_after_write: bool = False  # the model changed after velollm wrote its parameters


def show_value(value: ParamValue) -> str:
    return value if isinstance(value, str) else ", ".join(f'"{v}"' for v in value)


def _same_param(wanted: ParamValue, shown: tuple[str, ...]) -> bool:
    if not isinstance(wanted, str):  # stop sequences: a set, whatever the order
        return sorted(wanted) == sorted(shown)
    if len(shown) != 1:
        return False
    try:
        return float(wanted) == float(shown[0])  # 0.7 / 0.70, 1 / 1.0
    except ValueError:
        return _same(wanted, shown[0])


def _observed(wanted: ParamValue, shown: tuple[str, ...]) -> str:
    return shown[0] if isinstance(wanted, str) and len(shown) == 1 else show_value(shown)


def check_model_params(model: str, wanted: Mapping[str, ParamValue],
                       ev: ModelEvidence) -> list[ModelEffect]:
    return [_one_param(model, key, value, ev) for key, value in sorted(wanted.items())]


def _one_param(model: str, key: str, value: ParamValue, ev: ModelEvidence) -> ModelEffect:
    want = show_value(value)
    if ev.shown is None:
        return ModelEffect(model, key, want, None, "not effective",
                           f"the server has no model {model}: `ollama pull {model}`, then run "
                           f"`{ev.create_command}`")
    shown = ev.shown.get(key)
    observed = None if shown is None else _observed(value, shown)
    if shown is None or not _same_param(value, shown):
        if ev.replaced_after_write:
            why = (f"{model} was replaced after velollm wrote its parameters (a later `ollama "
                   f"pull` or `ollama create`?): run `{ev.create_command}` again")
        else:
            why = (f"`ollama create` has not been run: run `{ev.create_command}` (`velollm "
                   "apply --create-models` runs it when it writes the Modelfile)")
        return ModelEffect(model, key, want, observed, "not effective", why)
    if key == "num_ctx" and ev.loaded_context is not None:
        if str(ev.loaded_context) != want:
            return ModelEffect(model, key, want, str(ev.loaded_context), "not effective",
                               f"{model} is loaded with context_length {ev.loaded_context}: a "
                               "request's num_ctx overrides the model's, or it was loaded "
                               f"before `ollama create` (unload it: `ollama stop {model}`)")
        return ModelEffect(model, key, want, observed, "effective",
                           "the model has this value, and is loaded with it")
    return ModelEffect(model, key, want, observed, "effective", "the model has this value")
