"""The pages velollm draws: the self-contained report file and the dashboard page.

Each page inlines its style, the vendored Chart.js and velollm's chart code (web/), so a report
opens offline, without velollm, years later.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cache
from typing import Any

from velollm import __version__
from velollm.io.render import render_html
from velollm.resources import data_file

ASSETS = {"css": "velollm.css", "chart_js": "vendor/chart.umd.min.js", "charts_js": "charts.js",
          "dashboard_js": "dashboard.js"}


@cache
def assets() -> dict[str, str]:
    """The inlined files; one holding `</script` or `</style` would end its element early."""
    out = {}
    for key, name in ASSETS.items():
        text = data_file("web", name).read_text(encoding="utf-8")
        if "</script" in text.lower() or "</style" in text.lower():
            raise ValueError(f"web/{name} cannot be inlined: it contains a closing tag")
        out[key] = text
    return out


def report_page(data: dict[str, Any], now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    return render_html("report.html.j2", data=data, assets=assets(), generated_at=stamp,
                       version=__version__)



def dashboard_page(*, refresh_s: float) -> str:
    return render_html("dashboard.html.j2", assets=assets(), version=__version__,
                       refresh_ms=int(refresh_s * 1000))
