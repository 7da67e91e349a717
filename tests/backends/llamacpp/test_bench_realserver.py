"""The benchmark through llama-server: the same suites and statistics, the server's own timings,
and its /metrics counters agreeing with what the streams reported (concurrent clients too)."""

from __future__ import annotations

import jsonschema
import pytest

from tests.realllama import LlamaServerFactory
from velollm.backends.llamacpp import current
from velollm.backends.llamacpp.client import LlamaServerClient
from velollm.bench import baseline
from velollm.bench.suites import Scenario, Suite
from velollm.resources import load_schema

pytestmark = pytest.mark.realserver

SUITE = Suite("tiny", (Scenario("short", "Write one sentence about the sea.", 8),
                       Scenario("pair", "Write one sentence about hills.", 8, concurrency=2)), 2)


def test_benchmark_agrees_with_the_servers_counters(llama_server: LlamaServerFactory) -> None:
    server = llama_server(args=["-np", "2", "-c", "2048", "--metrics"])
    client = LlamaServerClient(server.base_url, find_pid=current.server_pid)
    model = client.tags()[0].name
    doc = baseline.run_benchmark(client, model, SUITE).document
    jsonschema.Draft202012Validator(load_schema("benchmark.schema.json")).validate(doc)
    check = doc["server_counters"]
    assert check["agree"] is True, check
    samples = [s for b in doc["benchmarks"] for s in b["samples"]]
    assert len(samples) == 2 * 3 + 1 * 3  # 2 clients x (warm-up + 2), 1 client x (warm-up + 2)
    assert all(s["ok"] and s["decode_source"] == "server" for s in samples)
    assert check["tokens_predicted"]["metrics"] == sum(s["eval_count"] for s in samples)
    assert check["decode_tps"]["metrics"] == pytest.approx(check["decode_tps"]["streams"],
                                                           rel=0.02)
    assert doc["contention"] is not None and doc["contention"]["server_pid"] == server.pid
    assert doc["settings"]["loaded"]["context_length"] == 1024
    client.close()


def test_without_metrics_the_document_says_so(llama_server: LlamaServerFactory) -> None:
    server = llama_server()
    client = LlamaServerClient(server.base_url)
    doc = baseline.run_benchmark(client, client.tags()[0].name,
                                 Suite("one", SUITE.scenarios[:1], 1)).document
    assert doc["server_counters"]["agree"] is None
    client.close()
