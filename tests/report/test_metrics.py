"""report/metrics.py: the dashboard's panels as Prometheus metrics, read back with the official
Prometheus client's parser; the shipped Grafana dashboard queries only metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from velollm.report.metrics import HELP, exposition

ROOT = Path(__file__).resolve().parents[2]
NOW = {"servers": [{"name": "ollama", "url": "http://127.0.0.1:11434", "up": True,
                    "version": "0.5.4", "models": [
                        {"name": 'odd"name\\x', "size_vram": 3 * 2**30, "size_cpu": 2**30,
                         "estimate": {"weights": 2**31, "kv_cache": 2**29, "total": 1}}]}],
       "capacity": {"kind": "GPU memory", "bytes": 24 * 2**30}}
CONFIG = {"drift": True, "rows": [
    {"env": "OLLAMA_NUM_PARALLEL", "status": "effective"},
    {"env": "OLLAMA_KEEP_ALIVE", "status": "not effective"},
    {"env": "OLLAMA_FLASH_ATTENTION", "status": "unknown"}]}
GAINS = {"count": 3, "timeline": {
    "runs": [{"run": "a", "model": "tiny"}, {"run": "b", "model": "tiny"}],
    "points": [{"run": "a", "benchmark": "short", "metric": "decode_tps", "median": 10.0},
               {"run": "b", "benchmark": "short", "metric": "decode_tps", "median": 12.5},
               {"run": "b", "benchmark": "short", "metric": "ttft_s", "median": 0.05}]}}


def _parsed(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {f.name: [(s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(text)}


def test_exposition_parses_and_says_what_the_panels_say() -> None:
    found = _parsed(exposition(NOW, CONFIG, GAINS))
    assert found["velollm_server_up"] == [
        ({"backend": "ollama", "url": "http://127.0.0.1:11434"}, 1.0)]
    assert found["velollm_server_info"][0][0]["version"] == "0.5.4"
    # unknown has no sample: a guess would page someone
    assert {s["setting"]: v for s, v in found["velollm_setting_effective"]} == {
        "OLLAMA_NUM_PARALLEL": 1.0, "OLLAMA_KEEP_ALIVE": 0.0}
    assert found["velollm_drift"] == [({}, 1.0)]
    memory = {(s["model"], s["device"]): v for s, v in found["velollm_model_memory_bytes"]}
    assert memory == {('odd"name\\x', "gpu"): 3 * 2**30, ('odd"name\\x', "cpu"): 2**30}
    parts = {s["part"] for s, _ in found["velollm_model_memory_estimate_bytes"]}
    assert parts == {"weights", "kv_cache"}
    # the last kept run only
    assert found["velollm_benchmark_decode_tokens_per_second"] == [
        ({"benchmark": "short", "model": "tiny"}, 12.5)]
    assert found["velollm_benchmark_ttft_seconds"][0][1] == 0.05
    assert found["velollm_capacity_bytes"] == [({"kind": "GPU memory"}, 24 * 2**30)]


def test_nothing_known_still_parses() -> None:
    found = _parsed(exposition({"servers": []}, {"rows": []}, {"count": 0}))
    assert found["velollm_benchmark_runs"] == [({}, 0.0)]
    assert found["velollm_drift"] == [({}, 0.0)]


def test_grafana_dashboard_queries_only_exposed_metrics() -> None:
    doc = json.loads((ROOT / "templates" / "monitoring" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"velollm_\w+", e)}
    assert used and used <= set(HELP), used - set(HELP)
    scrape = yaml.safe_load((ROOT / "templates" / "monitoring" / "prometheus.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:8089"]
