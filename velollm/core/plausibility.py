"""Is a generation's reported statistics physically possible? Pure: the benchmark asks it before a
figure is kept, so a server that lies (or a fake) gives a failed sample with a reason, not a rate.

The bounds are far outside anything real, so no real server is ever refused:
- decoding is one forward pass per token: even a 3.6 M-parameter model on a fast CPU stays well
  under 100 000 tokens/s, and Ollama 0.5.4 reports durations in whole milliseconds (32 tokens in
  a reported 1 ms reads as 32 000/s), hence a bound of 1 µs per token;
- prefill is batched and much faster, but not beyond 10 ns per token;
- the server's own durations are parts of the request, so none can exceed the wall-clock time the
  client measured for it (plus slack for clock granularity);
- a server produces at most about the tokens it was asked for (Ollama may count one more), and
  at least one per streamed piece of text.
"""

from __future__ import annotations

from dataclasses import dataclass

NS = 1e9
MIN_DECODE_NS_PER_TOKEN = 1_000  # 1 000 000 tokens/s
MIN_PREFILL_NS_PER_TOKEN = 10  # 100 000 000 tokens/s
EXTRA_TOKENS_ALLOWED = 10  # tokens past num_predict, and 10x as many: "orders of magnitude" off
WALL_SLACK_S = 0.05  # clock granularity, a server that rounds durations up
MAX_PROMPT_TOKENS = 10_000_000  # no context window holds more


@dataclass(frozen=True)
class Reported:
    """What a server reported of one generation (None: not reported)."""

    eval_count: int | None
    eval_duration_ns: int | None
    prompt_eval_count: int | None
    prompt_eval_duration_ns: int | None
    total_duration_ns: int | None
    load_duration_ns: int | None
    text_chunks: int = 0  # streamed chunks that carried text: each is at least one token


def implausible(r: Reported, *, wall_s: float, requested_tokens: int | None) -> str | None:
    """Why these figures cannot be real; None when they can."""
    allowed_s = wall_s * 1.05 + WALL_SLACK_S
    for name, value in (("total_duration", r.total_duration_ns),
                        ("load_duration", r.load_duration_ns),
                        ("prompt_eval_duration", r.prompt_eval_duration_ns),
                        ("eval_duration", r.eval_duration_ns)):
        if value is not None and value / NS > allowed_s:
            return (f"{name} of {value / NS:.6g} s is longer than the {wall_s:.3g} s the whole "
                    "request took")
    if r.eval_count is not None and requested_tokens is not None \
            and r.eval_count > (requested_tokens + EXTRA_TOKENS_ALLOWED) * 10:
        return (f"eval_count of {r.eval_count} tokens is far more than the {requested_tokens} "
                "requested")
    if r.text_chunks > (r.eval_count or 0) + 1:
        return (f"eval_count of {r.eval_count or 0} tokens, but it streamed {r.text_chunks} "
                "pieces of text")
    if r.prompt_eval_count is not None and r.prompt_eval_count > MAX_PROMPT_TOKENS:
        return f"prompt_eval_count of {r.prompt_eval_count} tokens is more than any context holds"
    too_fast = _too_fast("eval", r.eval_count, r.eval_duration_ns, MIN_DECODE_NS_PER_TOKEN)
    return too_fast or _too_fast("prompt_eval", r.prompt_eval_count, r.prompt_eval_duration_ns,
                                 MIN_PREFILL_NS_PER_TOKEN)


def _too_fast(name: str, count: int | None, duration_ns: int | None,
              min_ns_per_token: int) -> str | None:
    if not count or duration_ns is None or duration_ns >= count * min_ns_per_token:
        return None
    rate = "infinitely many" if duration_ns == 0 else f"{count / (duration_ns / NS):.3g}"
    return (f"{name}_count {count} in {name}_duration {duration_ns} ns is {rate} tokens/s, "
            f"beyond any real server ({NS / min_ns_per_token:.0e} tokens/s at most)")
