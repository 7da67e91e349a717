"""`velollm benchmark --speculative` for llama-server: resolve the binary, the target and its
drafts, sweep what the build supports, and turn the advice into velollm.yaml pins."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

from velollm.backends.base import SpeculativeRequest, SpeculativeSweep
from velollm.backends.llamacpp import speculative, vocab
from velollm.backends.llamacpp.knobdata import KNOBS
from velollm.core.speculation import advise, evaluate
from velollm.errors import UsageError, VelollmError
from velollm.io.hardware.memory import parse_meminfo

MAX_FOUND_DRAFTS = 3  # drafts found beside the target: the smallest few
HELP_TIMEOUT_S = 20.0


def run_sweep(request: SpeculativeRequest, progress: Callable[[str], None]) -> SpeculativeSweep:
    binary = _binary(request.binary)
    if request.model is None:
        raise UsageError("no target model to measure",
                         hint="give it with --model FILE.gguf, or list it under server.models "
                              "in velollm.yaml")
    model = request.model.expanduser()
    if not model.is_file():
        raise UsageError(f"the target model {model} does not exist or is not a file")
    supported = speculative.supported_types(_help(binary))
    if not supported:
        raise VelollmError(f"{binary} has no --spec-type option: this llama-server build is too "
                           "old for the speculative decoding velollm measures",
                           hint="install a newer llama.cpp (build 7000 or later)")
    wanted = request.types or (*speculative.NGRAM_DEFAULTS, "draft-simple")
    unknown = [t for t in wanted if t not in supported]
    if unknown:
        raise UsageError(f"this llama-server build does not know --spec-type "
                         f"{', '.join(unknown)}", hint=f"it supports: {', '.join(supported)}")
    progress("reading the tokenizers of the target and its drafts")
    drafts, refused = _drafts(model, request.drafts, "draft-simple" in wanted)
    cands = speculative.candidates(wanted, drafts, request.draft_max, request.draft_threads,
                                   request.draft_gpu_layers)
    together = request.side_by_side
    if together is None:
        together = _fits_together(model, drafts, len(cands))
    bench = speculative.Bench(binary, model, request.workdir, threads=request.threads or 1,
                              n_predict=request.n_predict, reps=request.reps)
    runs = speculative.sweep(bench, cands, side_by_side=together, progress=progress)
    rows = evaluate(runs[0], runs[1:], random.Random(0))
    advice = advise(rows)
    server = {"binary": str(binary), "model": str(model),
              "supported_types": ",".join(supported),
              "schedule": "side by side" if together else "one at a time",
              "threads": str(bench.threads), "n_predict": str(bench.n_predict),
              "reps": str(bench.reps)}
    # the winner as velollm.yaml pins; no speculation is a winner too (it undoes an old pin)
    pins = _pins(dict(advice.settings) if advice.label else {"spec_type": "none"})
    return SpeculativeSweep(rows, advice, tuple(refused), server, pins)


def _pins(settings: dict[str, str]) -> dict[str, object]:
    """velollm.yaml values of the winner's settings; one without a velollm.yaml key (the draft's
    threads: -td has no LLAMA_ARG_ variable) is left out and stays a flag of the report."""
    return {key: int(value) if value.isdigit() else value
            for key, value in settings.items() if key in KNOBS}


def _binary(given: Path | None) -> Path:
    if given is not None:
        path = given.expanduser()
        if not path.is_file():
            raise UsageError(f"llama-server binary {path} does not exist",
                             hint="give the path of llama-server with --binary")
        return path
    found = shutil.which("llama-server")
    if found is None:
        raise UsageError("llama-server is not on PATH",
                         hint="give its path with --binary, or set server.binary in velollm.yaml")
    return Path(found)


def _help(binary: Path) -> str:
    from velollm.io.hardware.runner import run_tool

    result = run_tool([str(binary), "--help"], timeout=HELP_TIMEOUT_S, which=lambda p: p)
    if result.status in ("absent", "timeout") or not (result.stdout or result.stderr):
        raise VelollmError(f"cannot run {binary} --help: {result.detail}",
                           hint="check that it is llama-server and that it runs")
    return result.stdout + result.stderr


def _drafts(model: Path, given: tuple[Path, ...], wanted: bool
            ) -> tuple[list[Path], list[tuple[str, str]]]:
    """The drafts to try and the refused ones with the reason (same tokenizer required)."""
    if not wanted:
        return [], []
    explicit = bool(given)
    pool = [p.expanduser() for p in given] if explicit else sorted(
        (p for p in model.parent.glob("*.gguf") if p.resolve() != model.resolve()
         and p.stat().st_size < model.stat().st_size), key=lambda p: p.stat().st_size)
    target = vocab.vocabulary(model)
    drafts: list[Path] = []
    refused: list[tuple[str, str]] = []
    for path in pool:
        if not path.is_file():
            raise UsageError(f"the draft model {path} does not exist or is not a file")
        try:
            why = vocab.mismatch(target, vocab.vocabulary(path))
        except VelollmError as exc:
            why = exc.message
        if why is None and (explicit or len(drafts) < MAX_FOUND_DRAFTS):
            drafts.append(path)
        elif why is not None:
            refused.append((str(path), why))
    return drafts, refused


def _fits_together(model: Path, drafts: list[Path], count: int) -> bool:
    """Every candidate's server at once only where a third of the free memory holds them all."""
    try:
        memory = parse_meminfo(Path("/proc/meminfo").read_text(encoding="ascii"))
    except OSError:
        memory = None
    if memory is None:
        return False
    need = model.stat().st_size * count + sum(d.stat().st_size for d in drafts) * count
    return need <= memory.available_bytes // 3
