"""Speculative decoding on llama-server: the candidates a build supports, each measured on a fresh
server of its own (127.0.0.1, a free port, stopped by its PID), with the same greedy prompts.

Facts of build 11669 (llama-server --help, common/arg.cpp): `--spec-type` takes a comma list of
none, draft-simple, draft-eagle3, ..., ngram-simple, ngram-map-k, ngram-map-k4v, ngram-mod,
ngram-cache; a draft model (`-md`) drafts only with `--spec-type draft-simple`; the draft length is
`--spec-draft-n-max` (`--draft-max` is removed); `-td` / `-ngld` are the draft's threads and GPU
layers. The stream's last chunk carries `timings` with `draft_n` / `draft_n_accepted` when
something was drafted; `/metrics` (with --metrics) counts `spec_decode_num_draft_tokens_total`
and `spec_decode_num_accepted_tokens_total`.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from velollm.core.speculation import CandidateRun, Sample
from velollm.errors import VelollmError
from velollm.io.http import Http, Limits
from velollm.io.launch import LaunchError, answers, launched

# Far above any single stream on any hardware today; a figure beyond it is a broken timer.
MAX_DECODE_TPS = 50_000.0
NGRAM_DEFAULTS = ("ngram-simple", "ngram-mod")  # the n-gram drafters worth a default sweep


@dataclass(frozen=True)
class SpecPrompt:
    name: str
    kind: str  # code and repetitive text are where n-gram drafting shines; prose is where not
    text: str


PROMPTS: tuple[SpecPrompt, ...] = (
    SpecPrompt("code", "code", "Write a Python class Stack with push, pop, peek and is_empty "
               "methods, each with a docstring, and unit tests for every method."),
    SpecPrompt("table", "repetitive", "Write the multiplication table of 7 from 7 x 1 = 7 to "
               "7 x 20 = 140, one line each, in exactly that format."),
    SpecPrompt("prose", "prose", "Explain how a bicycle works, step by step, for a child."),
)


@dataclass(frozen=True)
class Candidate:
    label: str
    args: tuple[str, ...] = ()  # llama-server arguments beyond the shared ones
    settings: dict[str, str] = field(default_factory=dict)  # the same, for the report and pins


def supported_types(help_text: str) -> tuple[str, ...]:
    """The --spec-type values a build lists in its --help (empty: it has no --spec-type)."""
    found = re.search(r"--spec-type\s+([a-z0-9,\-]+)", help_text)
    return tuple(found.group(1).split(",")) if found else ()


def candidates(types: Sequence[str], drafts: Sequence[Path], n_max: Sequence[int],
               draft_threads: Sequence[int], draft_gpu_layers: Sequence[str]) -> list[Candidate]:
    """The sweep: no speculation first, then each type x draft x setting the user asked for."""
    out = [Candidate("none", ("--spec-type", "none"), {"spec_type": "none"})]
    for kind in types:
        if kind.startswith("ngram"):
            out.append(Candidate(kind, ("--spec-type", kind), {"spec_type": kind}))
    if "draft-simple" in types:
        for draft in drafts:
            for n in n_max:
                for td in draft_threads or (0,):
                    for ngl in draft_gpu_layers or ("",):
                        args = ["--spec-type", "draft-simple", "-md", str(draft),
                                "--spec-draft-n-max", str(n)]
                        settings = {"spec_type": "draft-simple", "draft_model": str(draft),
                                    "draft_max": str(n)}
                        label = f"draft {draft.name} n-max {n}"
                        if td:
                            args += ["-td", str(td)]
                            settings["draft_threads"] = str(td)
                            label += f" td {td}"
                        if ngl:
                            args += ["-ngld", ngl]
                            settings["draft_gpu_layers"] = ngl
                            label += f" ngld {ngl}"
                        out.append(Candidate(label, tuple(args), settings))
    return out


@dataclass(frozen=True)
class Bench:
    """What every candidate shares: the server, the model, the prompts and their sizes."""

    binary: Path
    model: Path
    workdir: Path  # server logs go here
    threads: int = 1
    ctx: int = 4096
    n_predict: int = 128
    reps: int = 3
    seed: int = 1
    start_timeout_s: float = 120.0
    request_timeout_s: float = 300.0
    prompts: tuple[SpecPrompt, ...] = PROMPTS


def sweep(bench: Bench, cands: Sequence[Candidate], *, side_by_side: bool,
          progress: Callable[[str], None] = lambda _m: None) -> list[CandidateRun]:
    """Measure every candidate on a fresh server of its own.

    Side by side (the default where memory allows): every server is up at once and the requests
    take turns, candidate after candidate for each prompt and repetition, so a noisy neighbour
    on a shared machine slows all of them alike (idle llama-servers use no CPU). One at a time:
    each server runs its whole share alone, for models too big to load once per candidate.
    """
    if not side_by_side:
        return [_sweep_together(bench, [c], progress)[0] for c in cands]
    return _sweep_together(bench, cands, progress)


def _sweep_together(bench: Bench, cands: Sequence[Candidate],
                    progress: Callable[[str], None]) -> list[CandidateRun]:
    errors: dict[str, str] = {}
    https: dict[str, Http] = {}
    before: dict[str, tuple[int, int] | None] = {}
    samples: dict[str, list[Sample]] = {c.label: [] for c in cands}
    with contextlib.ExitStack() as stack:
        for cand in cands:
            progress(f"starting llama-server for {cand.label}")
            try:
                server = stack.enter_context(launched(
                    _argv(bench, cand), log_path=bench.workdir / f"server-{_slug(cand)}.log",
                    ready=healthy, deadline_s=bench.start_timeout_s, title="llama-server"))
            except LaunchError as exc:
                errors[cand.label] = exc.message
                continue
            http = Http(server.base_url, "llama-server",
                        Limits(deadline_s=bench.request_timeout_s), retries=0)
            stack.callback(http.close)
            https[cand.label] = http
            _complete(http, bench, SpecPrompt("warm-up", "prose", "Hello"), 8)
            before[cand.label] = _spec_counters(http)
        for rep in range(bench.reps):
            for prompt in bench.prompts:
                progress(f"repetition {rep + 1}/{bench.reps}: {prompt.name}")
                for label, http in https.items():
                    samples[label].append(_complete(http, bench, prompt, bench.n_predict))
        after = {label: _spec_counters(http) for label, http in https.items()}
    runs = []
    for cand in cands:
        if cand.label in errors:
            runs.append(CandidateRun(cand.label, cand.settings, error=errors[cand.label]))
            continue
        b, a = before.get(cand.label), after.get(cand.label)
        counted = (a[0] - b[0], a[1] - b[1]) if a is not None and b is not None else (None, None)
        runs.append(CandidateRun(cand.label, cand.settings, tuple(samples[cand.label]),
                                 *counted))
    return runs


def _argv(bench: Bench, cand: Candidate) -> Callable[[int], list[str]]:
    def argv(port: int) -> list[str]:
        return [str(bench.binary), "-m", str(bench.model), "--host", "127.0.0.1", "--port",
                str(port), "-c", str(bench.ctx), "-np", "1", "-t", str(bench.threads),
                "--metrics", *cand.args]

    return argv


def _slug(cand: Candidate) -> str:
    return re.sub(r"[^a-z0-9]+", "-", cand.label.lower()).strip("-")


# llama-server answers {"status": "ok"} on /health once its model is loaded (503 before)
healthy = answers("llama-server", "/health",
                  lambda data: isinstance(data, dict) and data.get("status") == "ok")


def _complete(http: Http, bench: Bench, prompt: SpecPrompt, n_predict: int) -> Sample:
    """One streamed greedy chat completion; its text, the server's timings, the client's TTFT."""
    body = {"messages": [{"role": "user", "content": prompt.text}], "max_tokens": n_predict,
            "temperature": 0, "top_k": 1, "seed": bench.seed, "stream": True,
            "cache_prompt": False}
    started = time.monotonic()
    ttft: float | None = None
    parts: list[str] = []
    timings: dict[str, object] | None = None
    try:
        for line in http.lines("POST", "/v1/chat/completions", body):
            if not line.startswith(b"data: ") or line.strip() == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if not isinstance(chunk, dict):
                raise TypeError("a stream chunk that is not an object")
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") if isinstance(choice, dict) else None
                piece = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(piece, str) and piece:
                    ttft = ttft if ttft is not None else (time.monotonic() - started) * 1000
                    parts.append(piece)
            if isinstance(chunk.get("timings"), dict):
                timings = chunk["timings"]
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        return Sample(prompt.name, prompt.kind, "", None, None, problem=f"bad stream: {exc}")
    except VelollmError as exc:
        return Sample(prompt.name, prompt.kind, "", None, None, problem=exc.message)
    return _sample(prompt, "".join(parts), timings, ttft, time.monotonic() - started)


def _sample(prompt: SpecPrompt, text: str, timings: dict[str, object] | None,
            ttft: float | None, wall_s: float) -> Sample:
    if timings is None:
        return Sample(prompt.name, prompt.kind, text, None, ttft,
                      problem="the stream ended without the server's timings")
    n, ms = _num(timings.get("predicted_n")), _num(timings.get("predicted_ms"))
    if (n is None or ms is None or n <= 0 or ms <= 0 or ms / 1000 > wall_s * 1.05 + 0.05
            or n / (ms / 1000) > MAX_DECODE_TPS):
        return Sample(prompt.name, prompt.kind, text, None, ttft,
                      problem=f"implausible timings (predicted_n={n}, predicted_ms={ms}, "
                              f"wall {wall_s:.2f} s)")
    drafted, accepted = _num(timings.get("draft_n")), _num(timings.get("draft_n_accepted"))
    if drafted is not None and accepted is not None and not 0 <= accepted <= drafted:
        return Sample(prompt.name, prompt.kind, text, None, ttft,
                      problem=f"implausible draft counts ({accepted} of {drafted} accepted)")
    return Sample(prompt.name, prompt.kind, text, n / (ms / 1000), ttft,
                  None if drafted is None else int(drafted),
                  None if accepted is None else int(accepted))


def _num(value: object) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) else None  # type: ignore[arg-type]


def _spec_counters(http: Http) -> tuple[int, int] | None:
    """(draft tokens, accepted tokens) from /metrics; None when the server does not export them."""
    try:
        text = http.text("GET", "/metrics")
    except VelollmError:
        return None
    found = dict(re.findall(r"^llamacpp:(spec_decode_num_(?:draft|accepted)_tokens_total)"
                            r"\s+([0-9.eE+]+)\s*$", text, re.MULTILINE))
    try:
        return (int(float(found["spec_decode_num_draft_tokens_total"])),
                int(float(found["spec_decode_num_accepted_tokens_total"])))
    except (KeyError, ValueError):
        return None
