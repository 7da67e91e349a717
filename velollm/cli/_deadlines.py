"""Options that bound how long a command waits: parsed here, enforced by velollm/io/deadlines.py
on every request to a server."""

from __future__ import annotations

import argparse
import math
from contextlib import AbstractContextManager


def seconds(text: str) -> float:
    """argparse type: seconds above zero (0 or less would time every probe out), at most a day
    (far larger values overflow the clocks the probes wait on)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= 86400):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0, "
                                         "at most 86400")
    return value


# A streamed generation may load the model first, which Ollama itself allows 5 minutes
# (OLLAMA_LOAD_TIMEOUT); any other answer (a version, a model list) takes milliseconds.
GENERATION_S = 300.0
ANSWER_S = 30.0


def add_deadline_options(p: argparse.ArgumentParser, run_s: float, *,
                         answer_s: float = ANSWER_S, generation_s: float | None = None) -> None:
    """--timeout and --deadline of the commands that talk to a server (benchmark, verify, plan,
    status), which velollm/io/deadlines.py enforces on every request. `generation_s`: the
    command streams generations, which get longer by default (--timeout sets both)."""
    default = f"{answer_s:g}" if generation_s is None else (
        f"{generation_s:g} for a generation, {answer_s:g} for any other answer")
    p.add_argument("--timeout", type=seconds, default=None, metavar="SECONDS",
                   help="the most one request to the server may take, every byte of its answer "
                        f"included (default: {default})")
    p.add_argument("--deadline", type=seconds, default=run_s, metavar="SECONDS",
                   help="the most the whole command may take talking to the server: it stops "
                        f"then, with what it has (default: {run_s:g})")
    p.set_defaults(answer_s=answer_s, generation_s=generation_s or answer_s)


def bounded(args: argparse.Namespace) -> AbstractContextManager[object]:
    """The command's run, held to the --timeout and --deadline it was given."""
    from velollm.io.deadlines import deadlines

    given = args.timeout
    return deadlines(given or args.answer_s, args.deadline, run_option="--deadline",
                     stream_s=given or args.generation_s)
