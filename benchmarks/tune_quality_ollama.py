#!/usr/bin/env python3
"""How good is `velollm tune` on Ollama? Its winner against an exhaustive sweep of the same space.

On the real Ollama of the test suite (tests/realserver.py provisions 0.5.4 CPU) with a GGUF model
created into a scratch store (default: the suite's tiny model; give a real one with --gguf, e.g.
SmolLM2-135M):
1. the oracle: every candidate of the space that the rules and the memory model let run, plus
   Ollama's defaults and velollm's rule-based choice, all servers up at once and the rounds
   taking turns (so load drift on a shared machine falls on every candidate alike);
2. tune: the pipeline `velollm tune` runs (velollm/bench/tune_pipeline.run: the search seeded
   with the rule-based choice, the best two measured again side by side with the defaults and
   the rule-based choice, the best of that wins) on the same space and pruning.
Prints the tune winner's objective (as the oracle measured it) as a share of the oracle's best
(goal >= 95 %), tune's cost (every round it ran, search and side by side) as a share of the
sweep's (goal <= 30 %), its wall time as a share of the oracle's, and the gains over the
defaults and the rule-based choice. The space that runs on Ollama 0.5.4's CPU build is small
(flash attention and a quantized cache are pruned), so the confirmation is one round by default.

usage: python benchmarks/tune_quality_ollama.py [--gguf FILE] [--oracle-rounds 3] [--trials N]
       [--rounds 1] [--confirm-rounds 1] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import tune_quality_common as common

from tests.realserver import find_runtime
from velollm.app.facts import load_hardware
from velollm.backends.base import TuneRequest
from velollm.backends.ollama.backend import OllamaBackend
from velollm.backends.ollama.tune_run import OllamaRuntime, serve
from velollm.core.workload import Workload

MODEL = "bench"
# Ollama's own values (api/types.go DefaultOptions: NumBatch 512; envconfig: flash attention
# off, an f16 KV cache)
SERVER_DEFAULTS = {"num_batch": 512, "flash_attention": False, "kv_cache_type": "f16"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", type=Path, help="the model (default: the suite's tiny one)")
    common.add_arguments(parser, confirm_rounds=1)
    args = parser.parse_args()
    runtime = find_runtime()
    if isinstance(runtime, str):
        raise SystemExit(runtime)
    os.environ.update(runtime.env)  # the provisioned build's libraries, for every server
    workload = Workload(concurrency=args.concurrency, prompt_tokens=64, output_tokens=32)
    with tempfile.TemporaryDirectory() as work:
        store = Path(work) / "models"
        store.mkdir()
        _create(OllamaRuntime(runtime.binary, MODEL, store, Path(work)), args.gguf or runtime.gguf)
        os.environ["OLLAMA_MODELS"] = str(store)
        tuning = OllamaBackend().tuning(TuneRequest(workload, load_hardware(None), Path(work),
                                                    Path(MODEL), runtime.binary))
        print(f"{tuning.described['build']}, {args.gguf or runtime.gguf}")
        runnable = [c for c in tuning.space.all() if tuning.prune(c) is None]
        return common.compare(tuning, runnable, args, SERVER_DEFAULTS)


def _create(runtime: OllamaRuntime, gguf: Path) -> None:
    """`ollama create` the model into the scratch store, through a server of our own."""
    modelfile = runtime.workdir / "Modelfile"
    modelfile.write_text(f"FROM {gguf}\n", encoding="utf-8")
    with serve(runtime, {}, "create") as server:
        env = {**os.environ, "HOME": str(runtime.workdir),
               "OLLAMA_HOST": f"127.0.0.1:{server.port}"}
        subprocess.run([str(runtime.binary), "create", MODEL, "-f", str(modelfile)], env=env,
                       check=True, capture_output=True, timeout=300)


if __name__ == "__main__":
    raise SystemExit(main())
