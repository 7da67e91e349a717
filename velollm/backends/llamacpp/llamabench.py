"""`velollm benchmark --engine llama-bench`: llama.cpp's own benchmark tool, run with the applied
LLAMA_ARG_* settings, reported in the benchmark document's schema.

llama-bench measures prefill (`-p N`, a pp test) and decode (`-n N`, a tg test) separately on random
tokens, without a server: each suite scenario becomes one pp test of about its prompt's length and
one tg test of its num_predict, repeated `iterations` times (llama-bench warms up by itself). A
scenario with concurrent clients has no llama-bench twin (it has no slots) and is left out.
Output is `-o jsonl`: with `-o json` a test that fails prints only `[` (e.g. `-fa off -ctv q8_0`).
Fields used (build 11669): build_number, n_prompt, n_gen, samples_ns, samples_ts, model_filename.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from velollm.bench.runner import Sample, ScenarioResult
from velollm.bench.suites import Scenario, Suite
from velollm.errors import VelollmError

ENGINE = "llama-bench"
TIMEOUT_S = 1800.0
# LLAMA_ARG_* -> llama-bench's flag; values pass through unless _VALUE says otherwise
FLAGS = {"LLAMA_ARG_THREADS": "-t", "LLAMA_ARG_BATCH": "-b", "LLAMA_ARG_UBATCH": "-ub",
         "LLAMA_ARG_FLASH_ATTN": "-fa", "LLAMA_ARG_CACHE_TYPE_K": "-ctk",
         "LLAMA_ARG_CACHE_TYPE_V": "-ctv", "LLAMA_ARG_N_GPU_LAYERS": "-ngl",
         "LLAMA_ARG_SPLIT_MODE": "-sm", "LLAMA_ARG_MAIN_GPU": "-mg",
         "LLAMA_ARG_TENSOR_SPLIT": "-ts", "LLAMA_ARG_NO_KV_OFFLOAD": "-nkvo",
         "LLAMA_ARG_LOAD_MODE": "-lm"}
_TRUE = frozenset({"on", "enabled", "true", "1"})
_NOISE = ("ggml_backend_load_best", "load_backend:")  # the Debian build's backend search
# Settings of the server that a single-stream, server-less measurement has no use for.
NOT_MEASURED = frozenset({"LLAMA_ARG_MODEL", "LLAMA_ARG_HOST", "LLAMA_ARG_PORT",
                          "LLAMA_ARG_N_PARALLEL", "LLAMA_ARG_CTX_SIZE",
                          "LLAMA_ARG_ENDPOINT_METRICS", "LLAMA_ARG_ENDPOINT_SLOTS",
                          "LLAMA_ARG_LOG_VERBOSITY", "LLAMA_ARG_CONT_BATCHING"})


def bench_flags(settings: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(llama-bench arguments, settings it cannot apply) for the server's LLAMA_ARG_* settings."""
    args: list[str] = []
    ignored: list[str] = []
    for env, value in sorted(settings.items()):
        flag = FLAGS.get(env)
        if flag is None:
            if env not in NOT_MEASURED:
                ignored.append(env)
            continue
        if env == "LLAMA_ARG_NO_KV_OFFLOAD":  # a switch in llama-server, 0|1 in llama-bench
            value = "1" if value.strip().lower() in _TRUE else "0"
        args += [flag, value]
    return args, ignored


def prompt_tokens(scenario: Scenario) -> int:
    """About the prompt's length in tokens (4 characters a token: English text, BPE); llama-bench
    prefills random tokens, so only the count matters."""
    return max(8, round(len(scenario.prompt_for(0)) / 4))


def measured_scenarios(suite: Suite) -> tuple[Scenario, ...]:
    return tuple(s for s in suite.scenarios if s.concurrency == 1)


def argv(binary: str, model: str, suite: Suite, flags: Sequence[str]) -> list[str]:
    scenarios = measured_scenarios(suite)
    pp = sorted({prompt_tokens(s) for s in scenarios})
    tg = sorted({s.num_predict for s in scenarios})
    return [binary, "-m", model, "-o", "jsonl", "-r", str(suite.iterations),
            "-p", ",".join(map(str, pp)), "-n", ",".join(map(str, tg)), *flags]


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise VelollmError(f"llama-bench printed a line that is not JSON: {line[:80]!r}",
                               hint="is the binary llama.cpp's llama-bench?") from None
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _row(rows: Sequence[dict[str, Any]], n_prompt: int, n_gen: int) -> dict[str, Any]:
    for r in rows:
        if r.get("n_prompt") == n_prompt and r.get("n_gen") == n_gen:
            return r
    raise VelollmError(f"llama-bench reported no test of {n_prompt} prompt and {n_gen} "
                       "generated tokens", hint="its output may be from another llama-bench")


def _series(row: dict[str, Any], key: str) -> list[float]:
    values = row.get(key)
    return [float(v) for v in values] if isinstance(values, list) else []


def to_results(suite: Suite, rows: Sequence[dict[str, Any]]) -> list[ScenarioResult]:
    """One Sample per repetition of a scenario's pp and tg tests."""
    results = []
    for s in measured_scenarios(suite):
        p = prompt_tokens(s)
        pp, tg = _row(rows, p, 0), _row(rows, 0, s.num_predict)
        pp_ns, pp_ts = _series(pp, "samples_ns"), _series(pp, "samples_ts")
        tg_ns, tg_ts = _series(tg, "samples_ns"), _series(tg, "samples_ts")
        samples = []
        for i in range(min(len(pp_ns), len(tg_ns), len(pp_ts), len(tg_ts))):
            wall = (pp_ns[i] + tg_ns[i]) / 1e9
            samples.append(Sample(s.name, i, 0, False, True, None, wall, None, tg_ts[i],
                                  ENGINE, pp_ts[i], s.num_predict, p, None, wall,
                                  int(tg_ns[i]), int(pp_ns[i]), "length"))
        results.append(ScenarioResult(s, tuple(samples), ()))
    return results


def find_binary(binary: str | None) -> str:
    found = binary or shutil.which(ENGINE)
    if not found or not Path(found).exists():
        raise VelollmError(f"{binary or ENGINE} not found",
                           hint="install llama.cpp's tools (llama-bench is beside llama-server) "
                                "and put them on PATH, or name the binary in velollm.yaml")
    return found


def run(command: list[str], timeout: float = TIMEOUT_S) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise VelollmError(f"llama-bench did not finish within {timeout:g} s",
                           hint="use --suite quick or fewer --iterations") from None
    except OSError as exc:
        raise VelollmError(f"cannot run {command[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        # the cause is the line before llama-bench's own "error: failed to ..." summary
        lines = [ln.strip() for ln in done.stderr.splitlines()
                 if ln.strip() and not ln.startswith(_NOISE)]
        raise VelollmError(f"llama-bench failed (exit {done.returncode}): "
                           f"{'; '.join(lines[-2:]) if lines else 'no message'}",
                           hint="the settings may not go together (a quantized V cache needs "
                                "flash attention on)")
    return done.stdout


def measure(*, model: str | None, suite: Suite, settings: Mapping[str, str],
            binary: str | None = None) -> tuple[list[ScenarioResult], dict[str, Any]]:
    """Run llama-bench and return (results, the benchmark document)."""
    from velollm.report.bench import RunInfo, build_document

    model = model or settings.get("LLAMA_ARG_MODEL")
    if not model:
        raise VelollmError("llama-bench needs the model file",
                           hint="name the GGUF file with --model PATH")
    flags, ignored = bench_flags(settings)
    command = argv(find_binary(binary), str(Path(model).expanduser()), suite, flags)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rows = parse_jsonl(run(command))
    if not rows:
        raise VelollmError("llama-bench printed no result", hint="run it by hand: "
                           + " ".join(command))
    results = to_results(suite, rows)
    build = rows[0].get("build_number")
    measured = replace(suite, scenarios=measured_scenarios(suite), warmup=0)
    info = RunInfo(str(model), ENGINE, f"b{build}" if build is not None else "", started, None,
                   {"request_options": {}, "model_parameters": "", "loaded": None,
                    "concurrency": 1, "llama_bench": {"argv": command, "settings": dict(settings),
                                                      "not_applied": ignored}})
    return results, {**build_document(info, measured, results), "engine": ENGINE}
