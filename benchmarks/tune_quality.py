#!/usr/bin/env python3
"""How good is `velollm tune`? Its winner against an exhaustive sweep of the same space.

On a real llama-server with SmolLM2-135M (the test runtime: tests/realllama.py provisions both),
with velollm's own llama.cpp tuning (memory-model pruning, the workload-aware rule-based choice)
on a small space of 16 candidates:
1. the oracle: every candidate, plus the server's defaults and velollm's rule-based choice, all
   servers up at once and the rounds taking turns (so load drift on a shared machine falls on
   every candidate alike);
2. tune: the pipeline `velollm tune` runs (velollm/bench/tune_pipeline.run: the search seeded
   with the rule-based choice, the best two measured again side by side with the defaults and
   the rule-based choice, the best of that wins).
Prints the tune winner's objective (as the oracle measured it) as a share of the oracle's best
(goal >= 95 %), tune's cost (every round it ran, search and side by side) as a share of the
sweep's (goal <= 30 %), its wall time as a share of the oracle's, and the gains over the
defaults and the rule-based choice.

usage: python benchmarks/tune_quality.py [--oracle-rounds 3] [--trials N] [--rounds 1]
       [--confirm-rounds 2] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import tune_quality_common as common

from tests.realllama import find_llama_runtime
from velollm.app.facts import load_hardware
from velollm.backends import get_backend
from velollm.backends.base import TuneRequest
from velollm.core.tune_space import Space
from velollm.core.workload import Workload

# 2 x 2 x 2 x 2 = 16 candidates; one thread and flash attention on keep the sweep short.
SPACE = Space({"parallel": (1, 2), "ubatch_size": (128, 512), "batch_size": (512, 2048),
               "kv_cache_type": ("f16", "q8_0"), "flash_attention": ("on",), "threads": (1,)})

# llama-server's own values (common/common.h: n_batch 2048, n_ubatch 512, cache_type f16)
SERVER_DEFAULTS = {"batch_size": 2048, "ubatch_size": 512, "kv_cache_type": "f16"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_arguments(parser, confirm_rounds=2)
    args = parser.parse_args()
    runtime = find_llama_runtime()
    if isinstance(runtime, str):
        raise SystemExit(runtime)
    workload = Workload(concurrency=args.concurrency, prompt_tokens=64, output_tokens=32)
    with tempfile.TemporaryDirectory() as work:
        tuning = get_backend("llamacpp").tuning(TuneRequest(
            workload, load_hardware(None), Path(work), runtime.model, runtime.server))
        tuning.space = SPACE  # type: ignore[misc]  # the benchmark's small space
        runnable = [c for c in SPACE.all() if tuning.prune(c) is None]
        return common.compare(tuning, runnable, args, SERVER_DEFAULTS)


if __name__ == "__main__":
    raise SystemExit(main())
