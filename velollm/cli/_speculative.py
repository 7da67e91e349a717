"""`velollm benchmark --speculative`: its options and its run (the benchmark command delegates)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from velollm.output import OUT

if TYPE_CHECKING:
    from velollm.backends.base import Backend


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "speculative decoding (--speculative)",
        "Measure no speculation against each speculative setting the llama-server build "
        "supports, each on a fresh llama-server of its own (127.0.0.1, a free port), with the "
        "same greedy prompts (code, repetitive text, prose); recommend one only when its "
        "speedup is confirmed (the whole 95% interval above 1) and its output is unchanged.")
    g.add_argument("--speculative", action="store_true",
                   help="run the speculative-decoding sweep instead of the standard suite")
    g.add_argument("--binary", type=Path, metavar="PATH",
                   help="llama-server to run (default: server.binary of velollm.yaml, else PATH)")
    g.add_argument("--draft", type=Path, action="append", default=[], metavar="FILE.gguf",
                   help="a draft model (repeatable; default: smaller .gguf files beside the "
                        "target that share its tokenizer)")
    g.add_argument("--spec-type", action="append", default=[], metavar="TYPE",
                   help="a --spec-type to try (repeatable; default: ngram-simple, ngram-mod "
                        "and draft-simple where the build has them)")
    g.add_argument("--draft-max", type=int, action="append", default=[], metavar="N",
                   help="--spec-draft-n-max values for draft models (default: 3 and 8)")
    g.add_argument("--draft-threads", type=int, action="append", default=[], metavar="N",
                   help="draft thread counts to try (default: the server's)")
    g.add_argument("--draft-gpu-layers", action="append", default=[], metavar="N",
                   help="draft GPU layer counts to try (default: the server's)")
    g.add_argument("--reps", type=int, default=3, metavar="N",
                   help="repetitions of each prompt per candidate (default: 3)")
    g.add_argument("--num-predict", type=int, default=128, metavar="N",
                   help="tokens generated per request, here and with --load (default: 128)")
    g.add_argument("--threads", type=int, default=None, metavar="N",
                   help="llama-server threads (default: 1 — stable figures on a shared machine)")
    g.add_argument("--config", type=Path, metavar="VELOLLM.yaml",
                   help="the velollm.yaml whose server: section names the binary and the model "
                        "(default: ./velollm.yaml when it exists)")
    g.add_argument("--write", action="store_true",
                   help="write the winner into that velollm.yaml as pins (the original is kept "
                        "as a backup beside it)")
    order = g.add_mutually_exclusive_group()
    order.add_argument("--side-by-side", dest="side_by_side", action="store_const", const=True,
                       default=None, help="all candidate servers up at once, requests taking "
                       "turns (default where memory allows)")
    order.add_argument("--one-at-a-time", dest="side_by_side", action="store_const",
                       const=False, help="one candidate server at a time (large models)")


def _backend(args: argparse.Namespace, backend_name: str | None) -> tuple[Path | None, Backend]:
    """The velollm.yaml in use (if any) and the backend, bound to its server: section."""
    from velollm.backends import get_backend
    from velollm.errors import UsageError

    config_path = args.config or (Path("velollm.yaml") if Path("velollm.yaml").is_file() else None)
    if args.write and config_path is None:
        raise UsageError("--write needs a velollm.yaml", hint="give it with --config FILE")
    config = None
    if config_path is not None:
        from velollm.config import load_config

        config = load_config(config_path)
    backend = get_backend(backend_name or (config.backend if config else None)
                          or ("llamacpp" if args.model else None))
    if config is not None and config.backend == backend.name:
        backend = backend.for_config(config.server)
    return config_path, backend


def run(args: argparse.Namespace, backend_name: str | None) -> int:
    from velollm.backends.base import SpeculationUnsupported, SpeculativeRequest
    from velollm.errors import UsageError
    from velollm.report import speculative as report
    from velollm.report.bench import write_json_atomic

    for name in ("reps", "num_predict"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if any(n < 1 for n in args.draft_max):
        raise UsageError("--draft-max must be at least 1")
    config_path, backend = _backend(args, backend_name)
    with tempfile.TemporaryDirectory(prefix="velollm-spec-") as work:
        request = SpeculativeRequest(
            model=Path(args.model) if args.model else None, binary=args.binary,
            drafts=tuple(args.draft), types=tuple(args.spec_type),
            draft_max=tuple(args.draft_max) or (3, 8), draft_threads=tuple(args.draft_threads),
            draft_gpu_layers=tuple(args.draft_gpu_layers), reps=args.reps,
            n_predict=args.num_predict, threads=args.threads, side_by_side=args.side_by_side,
            workdir=Path(work))
        try:
            sweep = backend.speculative(request, OUT.info)
        except SpeculationUnsupported as exc:
            if OUT.json_mode:
                OUT.json({"status": "skipped", "reason": exc.message, "hint": exc.hint})
            else:
                OUT.line(f"Skipped: {exc.message}.")
                if exc.hint:
                    OUT.line(f"Hint: {exc.hint}")
            return 0
    doc = report.document(sweep)
    if args.out is not None:
        write_json_atomic(args.out, doc)
    backup = None
    if args.write and config_path is not None:
        from velollm.config.pins import write_pins

        backup = write_pins(config_path, sweep.pins)
        doc["written"] = {"file": str(config_path), "backup": str(backup)}
    if OUT.json_mode:
        OUT.json(doc)
    else:
        for line in report.render(sweep):
            OUT.line(line)
        if backup is not None:
            OUT.line(f"Pinned in {config_path} (the original is {backup}); "
                     "`velollm plan` shows the change.")
    return 0
