"""The dashboard's panels as Prometheus metrics (text exposition format 0.0.4), for a fleet
watched by Prometheus and Grafana (templates/monitoring/ has a scrape config and a Grafana dashboard).

Pure: the dashboard's Now, Configuration and Gains documents in, the exposition text out. A
setting whose effect is unknown (server down, a value no evidence shows) has no sample rather
than a guess.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

Sample = tuple[Mapping[str, str], float]
# name -> help; every metric is a gauge
HELP = {
    "velollm_server_up": "1 when the server answered the dashboard's last request",
    "velollm_server_info": "the server's backend, address and version (value 1)",
    "velollm_setting_effective": "1 when the running server has the setting velollm applied, "
                                 "0 when it does not (unknown: no sample)",
    "velollm_drift": "1 when a managed file changed or a setting differs from velollm.yaml or "
                     "the server",
    "velollm_model_memory_bytes": "a loaded model's memory as the server reports it, by device",
    "velollm_model_memory_estimate_bytes": "velollm's memory model for a loaded model, by part",
    "velollm_capacity_bytes": "the memory models share: GPU memory, else RAM",
    "velollm_benchmark_decode_tokens_per_second": "median decode rate of the last kept benchmark",
    "velollm_benchmark_prefill_tokens_per_second": "median prefill rate of the last kept "
                                                   "benchmark",
    "velollm_benchmark_ttft_seconds": "median time to first token of the last kept benchmark",
    "velollm_benchmark_runs": "benchmark and verify runs velollm keeps",
}
_BENCH = {"decode_tps": "velollm_benchmark_decode_tokens_per_second",
          "prefill_tps": "velollm_benchmark_prefill_tokens_per_second",
          "ttft_s": "velollm_benchmark_ttft_seconds"}


def exposition(now: Mapping[str, Any], configuration: Mapping[str, Any],
               gains: Mapping[str, Any]) -> str:
    samples: dict[str, list[Sample]] = {name: [] for name in HELP}
    _now(now, samples)
    for row in configuration.get("rows") or []:
        if row.get("status") in ("effective", "not effective"):
            samples["velollm_setting_effective"].append(
                ({"setting": str(row["env"])}, float(row["status"] == "effective")))
    samples["velollm_drift"].append(({}, float(bool(configuration.get("drift")))))
    _gains(gains, samples)
    return "".join(_family(name, rows) for name, rows in samples.items() if rows)


def _now(now: Mapping[str, Any], samples: dict[str, list[Sample]]) -> None:
    for server in now.get("servers") or []:
        where = {"backend": str(server.get("name")), "url": str(server.get("url"))}
        samples["velollm_server_up"].append((where, float(bool(server.get("up")))))
        if server.get("version"):
            samples["velollm_server_info"].append(({**where, "version": server["version"]},
                                                   1.0))
        for m in server.get("models") or []:
            model = {"model": str(m["name"])}
            samples["velollm_model_memory_bytes"] += [
                ({**model, "device": "gpu"}, float(m.get("size_vram") or 0)),
                ({**model, "device": "cpu"}, float(m.get("size_cpu") or 0))]
            for part, size in (m.get("estimate") or {}).items():
                if part != "total":
                    samples["velollm_model_memory_estimate_bytes"].append(
                        ({**model, "part": str(part)}, float(size)))
    capacity = now.get("capacity")
    if capacity:
        samples["velollm_capacity_bytes"].append(({"kind": str(capacity["kind"])},
                                                  float(capacity["bytes"])))


def _gains(gains: Mapping[str, Any], samples: dict[str, list[Sample]]) -> None:
    samples["velollm_benchmark_runs"].append(({}, float(gains.get("count") or 0)))
    timeline = gains.get("timeline") or {}
    last = (timeline.get("runs") or [None])[-1]
    if last is None:
        return
    for point in timeline.get("points") or []:
        if point["run"] == last["run"] and point["metric"] in _BENCH:
            samples[_BENCH[point["metric"]]].append(
                ({"benchmark": str(point["benchmark"]), "model": str(last["model"])},
                 float(point["median"])))


def _family(name: str, rows: Iterable[Sample]) -> str:
    text = f"# HELP {name} {HELP[name]}\n# TYPE {name} gauge\n"
    return text + "".join(f"{name}{_labels(labels)} {_value(value)}\n" for labels, value in rows)


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    escaped = (f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + ",".join(escaped) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value) if not value.is_integer() else str(int(value))
