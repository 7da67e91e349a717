"""The live figures of the dashboard's Now panel, where the server reports them: its request
slots (llama-server's /slots) and its generation rate between two polls of its token counters
(llama-server's /metrics). Ollama reports neither; its panel shows the last kept benchmark."""

from __future__ import annotations

import time
from typing import Any

from velollm.backends.wire import CountsTokens
from velollm.errors import VelollmError


def slots_of(client: Any) -> tuple[str | None, str | None]:
    """("1 busy of 4", None), or (None, why not)."""
    read = getattr(client, "slots", None)
    if read is None:
        return None, None
    try:
        slots = read()
    except VelollmError as exc:
        return None, f"the server did not list its slots ({exc.message})"
    busy = sum(1 for s in slots if s.get("is_processing") is True)
    return f"{busy} busy of {len(slots)}", None


def live_rate(client: Any, previous: dict[str, tuple[float, float, float]]
              ) -> dict[str, float] | None:
    """Tokens generated per second since the last poll of the same server, from its own
    counters; `previous` keeps each server's last reading (url -> time, tokens, seconds)."""
    if not isinstance(client, CountsTokens):
        return None
    try:
        counters = client.token_counters()
    except VelollmError:
        return None
    if counters is None:
        return None
    now = time.monotonic()
    url = str(getattr(client, "base_url", ""))
    last = previous.get(url)
    previous[url] = (now, counters.predicted_tokens, counters.predicted_seconds)
    if last is None or now <= last[0] or counters.predicted_tokens < last[1]:
        return None  # the first poll, or the server restarted (its counters began again)
    window = now - last[0]
    return {"tokens_per_s": (counters.predicted_tokens - last[1]) / window,
            "window_s": window, "tokens_total": counters.predicted_tokens}
