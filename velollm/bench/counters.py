"""The benchmark's cross-check against the server's own counters (llama-server's /metrics).

Every request of the run (warm-ups and failed ones too) reached the server, so the counters'
growth must equal the sum over the streams of their token counts, and the decode rate from the
counters (tokens / seconds) the rate from the streams' own timings. A difference means another
client used the server meanwhile, a stream was cut (the server counted tokens no stream
reported), or the server restarted. Pure: the readings are taken by bench/baseline.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from velollm.backends.wire import TokenCounters
from velollm.bench.runner import ScenarioResult

_RATE_TOLERANCE = 0.02  # both come from the same server timings; rounding of ms only


def cross_check(before: TokenCounters | None, after: TokenCounters | None,
                results: Sequence[ScenarioResult]) -> dict[str, Any]:
    """The document's `server_counters`: what /metrics counted, what the streams said, and
    whether they agree (None when the server has no counters to compare with)."""
    if before is None or after is None:
        return {"source": "/metrics", "agree": None,
                "note": "the server serves no token counters (llama-server: start it with "
                        "--metrics)"}
    samples = [s for r in results for s in r.samples]
    ok = [s for s in samples if s.ok]
    streams_predicted = sum(s.eval_count or 0 for s in ok)
    streams_prompt = sum(s.prompt_eval_count or 0 for s in ok)
    streams_eval_s = sum((s.eval_duration_ns or 0) for s in ok) / 1e9
    grew_predicted = after.predicted_tokens - before.predicted_tokens
    grew_prompt = after.prompt_tokens - before.prompt_tokens
    grew_s = after.predicted_seconds - before.predicted_seconds
    metrics_tps = grew_predicted / grew_s if grew_s > 0 else None
    streams_tps = streams_predicted / streams_eval_s if streams_eval_s > 0 else None
    rates_agree = metrics_tps is not None and streams_tps is not None and \
        abs(metrics_tps - streams_tps) <= _RATE_TOLERANCE * max(metrics_tps, streams_tps)
    agree = grew_predicted == streams_predicted and grew_prompt == streams_prompt and rates_agree
    note = "" if agree else _why(grew_predicted, streams_predicted, grew_prompt, streams_prompt,
                                 len(samples) - len(ok))
    return {"source": "/metrics", "agree": agree, "note": note,
            "tokens_predicted": {"metrics": grew_predicted, "streams": streams_predicted},
            "prompt_tokens": {"metrics": grew_prompt, "streams": streams_prompt},
            "decode_tps": {"metrics": metrics_tps, "streams": streams_tps}}


def _why(grew_predicted: float, streams_predicted: int, grew_prompt: float, streams_prompt: int,
         failed: int) -> str:
    said = (f"/metrics counted {grew_predicted:g} generated and {grew_prompt:g} prompt tokens, "
            f"the streams reported {streams_predicted} and {streams_prompt}")
    if grew_predicted < 0 or grew_prompt < 0:
        return f"{said}: the server restarted during the benchmark"
    if failed:
        return f"{said}: {failed} request(s) failed, whose tokens only the server counted"
    return f"{said}: another client used the server during the benchmark?"


def mismatch(document: dict[str, Any]) -> str | None:
    """The warning a report shows when the counters disagree; None when they agree or are
    absent."""
    check = document.get("server_counters")
    if not isinstance(check, dict) or check.get("agree") is not False:
        return None
    return f"the server's own counters disagree with the benchmark: {check.get('note')}"
