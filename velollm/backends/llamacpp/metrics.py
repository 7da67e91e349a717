"""llama-server's /metrics (Prometheus text; the server serves it only with --metrics), read with
prometheus-client's own parser. The only module that imports prometheus_client.

Counters of build 11669 (all `llamacpp:`-prefixed, no labels): prompt_tokens_total,
prompt_seconds_total, tokens_predicted_total, tokens_predicted_seconds_total, n_decode_total,
prompt_tokens_cached_total, spec_decode_num_{draft_tokens,accepted_tokens,drafts}_total; gauges:
requests_processing, requests_deferred, prompt_tokens_seconds, predicted_tokens_seconds, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from velollm.errors import ServerResponseError

PREFIX = "llamacpp:"


@dataclass(frozen=True)
class Counters:
    """One reading of /metrics: sample name without the prefix -> value."""

    values: Mapping[str, float]

    def get(self, name: str) -> float | None:
        return self.values.get(name)

    def since(self, before: Counters) -> dict[str, float]:
        """How much each counter (`*_total`) grew since `before` (a restart makes it shrink:
        then the difference is negative, and a cross-check says so)."""
        return {k: v - before.values[k] for k, v in self.values.items()
                if k.endswith("_total") and k in before.values}


def parse(text: str, where: str = "/metrics") -> Counters:
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if not sample.labels:  # llama-server's have none; others are not ours
                    values[sample.name.removeprefix(PREFIX)] = float(sample.value)
    except ValueError as exc:
        raise ServerResponseError(f"{where} is not Prometheus text ({str(exc)[:120]})",
                                  status=200,
                                  hint="is --host pointing at llama-server?") from None
    return Counters(values)
