"""The part of `velollm verify` that no backend owns: what was applied, and the exit code. Each backend gathers its own
evidence (velollm/backends/<name>/evidence.py) for the pure effect check (velollm/core/effect.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from velollm.core import effect
from velollm.errors import VelollmError
from velollm.io.state import State

if TYPE_CHECKING:
    from velollm.core.planner import ParamValue

EXIT_NOT_EFFECTIVE = 4
EXIT_REGRESSED = 5
EXIT_INTERRUPTED = 130  # ^C during the benchmark: what was measured is still compared


class NothingAppliedError(VelollmError):
    pass


class UnmeasuredError(VelollmError):
    """verify's benchmark did not measure what the comparison needs: never an exit 0."""


def unmeasured(why: str, hint: str | None = None) -> UnmeasuredError:
    return UnmeasuredError(f"verify could not benchmark the server: {why}",
                           hint=hint or "fix the server (its log says more), then run verify "
                                        "again; --skip-benchmark checks only the settings")


def check_measured(document: dict[str, Any], url: str) -> None:
    """Every request of verify's benchmark must have given a figure: a request that failed (an
    error, figures no real server produces, HTTP 503) makes any verdict a guess."""
    samples = [s for b in document.get("benchmarks") or [] for s in b.get("samples") or []]
    failed = [s for s in samples if not s.get("ok")]
    if failed:
        raise unmeasured(f"{len(failed)} of {len(samples)} requests to the server at {url} "
                         f"failed (the first: {failed[0].get('error')})")
    if not samples:
        raise unmeasured(f"no request to the server at {url} was measured")


def wanted_settings(state: State) -> tuple[dict[str, str], str]:
    """(env, target kind) velollm last applied; a clear error when nothing was applied yet."""
    env = state.settings.get("env")
    if not state.files or not isinstance(env, dict):
        raise NothingAppliedError("velollm has not applied a configuration on this machine yet",
                                  hint="run `velollm plan` and `velollm apply` first")
    return {str(k): str(v) for k, v in env.items()}, str(state.settings.get("target") or "")


def retired_settings(state: State) -> tuple[str, ...]:
    """Settings velollm set before and no longer wants (the last apply unset them)."""
    names = state.settings.get("unset")
    return tuple(str(n) for n in names) if isinstance(names, list) else ()


def wanted_models(state: State) -> dict[str, dict[str, ParamValue]]:
    """model -> the parameters velollm last wrote for it (a list, e.g. stop, as a tuple)."""
    models = state.settings.get("models")
    if not isinstance(models, dict):
        return {}
    return {str(m): {str(k): tuple(map(str, v)) if isinstance(v, list) else str(v)
                     for k, v in params.items()}
            for m, params in models.items() if isinstance(params, dict)}


def applied_backend(state: State) -> str | None:
    """The backend whose settings velollm last applied (None: state older than backends)."""
    name = state.settings.get("backend")
    return name if isinstance(name, str) else None


def exit_code(effects: Sequence[effect.Effect | effect.ModelEffect], benchmark: str | None) -> int:
    """0: no setting known to be ineffective and no confirmed regression; 4: a setting is not
    effective (checked first: a benchmark of settings not in force proves nothing); 5: the
    benchmark confirmed a regression. `unknown` and `inconclusive` are reported, not failed."""
    if any(e.status == "not effective" for e in effects):
        return EXIT_NOT_EFFECTIVE
    if benchmark == "regressed":
        return EXIT_REGRESSED
    return 0
