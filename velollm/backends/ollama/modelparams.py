"""Did the parameters velollm wrote into a Modelfile reach the model? The evidence, for the pure
check in velollm/core/effect.py.

- /api/show `parameters`: the model's own parameters, one `name value` line each, as Go's `%#v`
  prints them (strings quoted; a list, such as the stop sequences, one line per item);
- /api/ps `context_length` of the loaded model (Ollama >= 0.10; None before);
- /api/tags `modified_at` against the time velollm wrote the Modelfile: a model changed after
  that was replaced (re-pulled or re-created), else `ollama create` has not been run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from velollm.backends.ollama.targets import modelfile_stem, render_target
from velollm.backends.wire import RunningModel, ServerClient
from velollm.core import effect, gotypes
from velollm.core.planner import ParamValue
from velollm.errors import ServerResponseError
from velollm.io.state import State


def parse_parameters(text: str) -> dict[str, tuple[str, ...]]:
    """/api/show's `parameters` text -> name -> its values (several for a list)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            out.setdefault(parts[0], []).append(_go_unquote(parts[1].strip()))
    return {name: tuple(values) for name, values in out.items()}


def _go_unquote(text: str) -> str:
    """A Go-quoted string (strconv.Quote, JSON-compatible for what Modelfiles hold) as text."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            value = json.loads(text)
        except ValueError:
            return text[1:-1]
        return value if isinstance(value, str) else text[1:-1]
    return text


def full_name(model: str) -> str:
    """Ollama's name for a reference: `tiny` is `tiny:latest`."""
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


def _modelfile(state: State, model: str,
               params: Mapping[str, ParamValue]) -> tuple[str, float | None]:
    """(the `ollama create` command apply printed, when velollm wrote the Modelfile)."""
    name = f"{modelfile_stem(model)}.Modelfile"
    record = next((f for f in state.files if f.target == "modelfile"
                   and Path(f.path).name == name), None)
    directory = Path(record.path).parent if record else None  # None: the default directory
    command = render_target("modelfile", {}, path=directory, models={model: params})[0].follow_up[0]
    try:
        written = Path(record.path).stat().st_mtime if record else None
    except OSError:
        written = None
    return command, written


def gather(state: State, models: Mapping[str, Mapping[str, ParamValue]], client: ServerClient,
           loaded: Sequence[RunningModel]) -> dict[str, effect.ModelEvidence]:
    if not models:
        return {}
    changed = {full_name(t.name): gotypes.parse_time(t.modified_at) for t in client.tags()}
    contexts = {full_name(m.name): m.context_length for m in loaded}
    out: dict[str, effect.ModelEvidence] = {}
    for model, params in sorted(models.items()):
        command, written = _modelfile(state, model, params)
        try:
            shown: dict[str, tuple[str, ...]] | None = parse_parameters(
                client.show(model).parameters)
        except ServerResponseError as exc:
            if exc.status != 404:
                raise
            shown = None
        modified = changed.get(full_name(model))
        replaced = modified is not None and written is not None and modified > written
        out[model] = effect.ModelEvidence(shown, command, contexts.get(full_name(model)),
                                          replaced)
    return out


def check(models: Mapping[str, Mapping[str, ParamValue]],
          found: Mapping[str, effect.ModelEvidence]) -> list[effect.ModelEffect]:
    return [e for model, params in sorted(models.items())
            for e in effect.check_model_params(model, params, found[model])]
