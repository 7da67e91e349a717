"""Ollama itself reads the Modelfile velollm renders: `ollama create` stores every stop sequence
exactly (its parser has no escapes, so the quoting is checked against the real one)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.backends.ollama.nasty import NASTY_STOPS
from tests.realserver import MODEL, Runtime
from velollm.backends.ollama.targets import render_target

# Ollama <= 0.5.4 (the real-server tests' version) parses the file, writes it out again with its
# own quote(), which leaves a value bare unless it has a space at either end, and parses that
# again: a sequence that starts with a quote and has no such space cannot survive there, whatever
# the file says. From 0.5.5 the file is parsed once, as tests/io/test_readback.py reads it.
SURVIVE_054 = tuple(s for s in NASTY_STOPS if not s.startswith('"') or s != s.strip())


def _stored_params(models_dir: Path, model: str) -> dict[str, object]:
    """The parameters `ollama create` stored: the params layer of the model's manifest."""
    manifest = models_dir / "manifests" / "registry.ollama.ai" / "library" / model / "latest"
    layers = json.loads(manifest.read_text(encoding="utf-8"))["layers"]
    [digest] = [layer["digest"] for layer in layers
                if layer["mediaType"] == "application/vnd.ollama.image.params"]
    params: dict[str, object] = json.loads(
        (models_dir / "blobs" / digest.replace(":", "-")).read_text(encoding="utf-8"))
    return params


@pytest.mark.realserver
def test_ollama_create_stores_every_stop_sequence_exactly(ollama_server,  # type: ignore[no-untyped-def]
                                                          ollama_runtime: Runtime,
                                                          tmp_path: Path) -> None:
    server = ollama_server()
    (rendered,) = render_target("modelfile", {}, path=tmp_path,
                                models={MODEL: {"stop": SURVIVE_054}})
    rendered.path.write_text(rendered.content, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           **ollama_runtime.env, "HOME": str(server.home),
           "OLLAMA_HOST": server.base_url.removeprefix("http://")}
    subprocess.run([str(ollama_runtime.binary), "create", MODEL, "-f", str(rendered.path)],
                   env=env, check=True, capture_output=True, timeout=120)
    assert _stored_params(server.models_dir, MODEL)["stop"] == list(SURVIVE_054)
