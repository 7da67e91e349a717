"""`velollm tune` on Ollama without a real server: the environment of a candidate's
`ollama serve`, the workload's requests against a recorded Ollama 0.5.4 stream (pytest-httpserver),
the search over Ollama's space with recorded measurements, and the clear refusals."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.cli.hwdocs import hardware
from velollm.backends.base import TuneRequest
from velollm.backends.ollama import tuning
from velollm.backends.ollama.backend import OllamaBackend
from velollm.backends.ollama.tune_run import Job, OllamaRuntime, server_env
from velollm.bench.tuner import search
from velollm.core.hardware import Hardware
from velollm.core.models import ModelInfo
from velollm.core.tune_space import Candidate, OllamaRules, key, ollama_prune, ollama_space
from velollm.core.workload import Workload
from velollm.errors import UsageError, VelollmError

# The final chunk as Ollama 0.5.4 sends it for the tiny model: whole-ms eval_duration.
FINAL = {"model": "tiny", "response": "", "done": True, "done_reason": "length",
         "total_duration": 37757165, "load_duration": 1862601, "prompt_eval_count": 30,
         "eval_count": 8, "eval_duration": 4000000}
MODEL = ModelInfo("tiny", "llama", 2, 64, 2, (2, 2), 32, 32, 2048, 545_000)


def stream(*texts: str) -> str:
    chunks = [{"model": "tiny", "response": t, "done": False} for t in texts]
    return "".join(json.dumps(c) + "\n" for c in [*chunks, FINAL])


def runtime(tmp_path: Path) -> OllamaRuntime:
    return OllamaRuntime(tmp_path / "ollama", "tiny", tmp_path / "models", tmp_path)


def test_the_server_gets_the_candidate_and_none_of_the_users_ollama_settings(
        tmp_path: Path) -> None:
    inherited = {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/opt/lib", "OLLAMA_NUM_PARALLEL": "9",
                 "OLLAMA_HOST": "0.0.0.0", "OLLAMA_MODELS": "/elsewhere", "HOME": "/home/u"}
    cand = {"num_parallel": 2, "flash_attention": True, "kv_cache_type": "q8_0",
            "num_batch": 128}
    env = server_env(runtime(tmp_path), cand, tmp_path / "h", 4242, inherited)
    assert env == {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/opt/lib", "HOME": str(tmp_path / "h"),
                   "OLLAMA_HOST": "127.0.0.1:4242", "OLLAMA_MODELS": str(tmp_path / "models"),
                   "OLLAMA_NOPRUNE": "1", "OLLAMA_NUM_PARALLEL": "2",
                   "OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_KV_CACHE_TYPE": "q8_0"}
    defaults = server_env(runtime(tmp_path), {}, tmp_path / "h", 4242, inherited)
    assert "OLLAMA_NUM_PARALLEL" not in defaults  # the defaults are Ollama's own


def test_the_model_store_is_the_users(tmp_path: Path) -> None:
    assert tuning.models_dir({"OLLAMA_MODELS": "/m"}, tmp_path) == Path("/m")
    assert tuning.models_dir({}, tmp_path) == tmp_path / ".ollama" / "models"


def test_a_round_streams_the_workload_with_the_candidates_options(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/generate", method="POST").respond_with_data(
        stream("a", " b"), content_type="application/x-ndjson")
    w = Workload(concurrency=2, prompt_tokens=24, output_tokens=8)
    job = Job(httpserver.url_for("/").rstrip("/"), "tiny", {"num_ctx": 256, "num_batch": 128},
              w)
    rng = random.Random(0)
    job.calibrate(rng)
    assert job.words_per_token == 24 / 30  # 24 words were 30 tokens
    rnd = job.round(rng)
    assert len(rnd.requests) == 4 and all(r.problem is None for r in rnd.requests)
    assert {(r.tokens, r.decode_tps) for r in rnd.requests} == {(8, 2000.0)}
    assert all(r.ttft_ms is not None for r in rnd.requests)
    bodies = [json.loads(req.get_data()) for req, _resp in httpserver.log]
    assert [len(b["prompt"].split()) for b in bodies] == [24] + [19] * 4  # calibrated
    assert bodies[0]["options"]["num_predict"] == 4  # the warm-up is short
    for body in bodies[1:]:
        assert body["model"] == "tiny" and body["raw"] is True
        assert {k: body["options"][k] for k in ("num_ctx", "num_batch", "num_predict")} == {
            "num_ctx": 256, "num_batch": 128, "num_predict": 8}
    assert len({b["options"]["seed"] for b in bodies}) == 5


def test_a_failing_model_is_a_failed_request_and_a_clear_warm_up_error(
        httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/generate").respond_with_json(
        {"error": "model 'tiny' not found"}, status=404)
    job = Job(httpserver.url_for("/").rstrip("/"), "tiny", {"num_ctx": 256}, Workload())
    result, _evaluated = job.request(random.Random(0), 8, 10)
    assert result.problem is not None and "404" in result.problem
    with pytest.raises(VelollmError, match="warm-up request to tiny failed"):
        job.calibrate(random.Random(0))


def landscape(c: Candidate) -> float:
    """Recorded throughputs of a CPU box: two slots help, the full core count helps."""
    return (12.0 if c["num_parallel"] == 2 else 7.0) * (1.5 if c["num_thread"] == 4 else 1.0) \
        + (0.5 if c["num_batch"] == 512 else 0.0)


def test_the_search_over_ollamas_space_never_runs_what_ollama_ignores() -> None:
    w = Workload(concurrency=2, prompt_tokens=24, output_tokens=8)
    space = ollama_space(w, cores=4)
    launched: list[str] = []

    @contextlib.contextmanager
    def launch(c: Candidate) -> Iterator[Callable[[], float | None]]:
        launched.append(key(c))
        yield lambda: landscape(c)

    cpu_054 = OllamaRules(gpus=(), quantized_kv_needs_gpu=True)
    found = search(space, lambda c: ollama_prune(c, w, MODEL, 8 * 2**30, cpu_054), launch,
                   rounds=1, budget_s=3600, max_trials=space.size())
    ran = [t for t in found.trials if t.scores]
    assert len(ran) == len(launched) == 2 * 2 * 3  # flash attention and q8_0 never run on CPU
    assert all(t.candidate["flash_attention"] is False and t.candidate["kv_cache_type"] == "f16"
               for t in ran)
    assert all(t.pruned for t in found.trials if not t.scores)
    best = max(ran, key=lambda t: t.scores[0])
    assert (best.candidate["num_parallel"], best.candidate["num_thread"],
            best.candidate["num_batch"]) == (2, 4, 512)


def request(tmp_path: Path, **kwargs: object) -> TuneRequest:
    return TuneRequest(Workload(concurrency=2), Hardware.from_dict(hardware(cores=4)), tmp_path,
                       **kwargs)  # type: ignore[arg-type]


def test_refusals_name_what_to_give(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no ollama on PATH
    backend = OllamaBackend()
    with pytest.raises(UsageError, match="ollama binary is not found"):
        backend.tuning(request(tmp_path))
    binary = tmp_path / "ollama"
    binary.write_text("")
    with pytest.raises(UsageError, match="no model to tune"):
        backend.tuning(request(tmp_path, binary=binary))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "nowhere"))
    with pytest.raises(UsageError, match=r"model store .*nowhere does not exist"):
        backend.tuning(request(tmp_path, binary=binary, model_names=("tiny",)))


def test_the_rule_based_choice_and_the_space_come_from_the_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "ollama"
    binary.write_text("")
    (tmp_path / "models").mkdir()
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    monkeypatch.setattr(tuning, "probe", lambda _rt: ("0.4.7", MODEL))
    tuned = OllamaBackend().tuning(request(tmp_path, binary=binary, model=Path("tiny")))
    assert "kv_cache_type" not in tuned.space.dimensions  # read from Ollama 0.5.0 on
    assert tuned.rule_based() and set(tuned.rule_based()) <= set(tuned.space.dimensions)
    assert tuned.described["build"] == "Ollama 0.4.7" and tuned.described["model"] == "tiny"
    assert tuned.pins({"num_parallel": 2, "num_thread": 4}) == {"num_parallel": 2}
    assert tuned.model_pins({"num_parallel": 2, "num_thread": 4, "num_batch": 128}) == {
        "tiny": {"num_batch": 128, "num_thread": 4}}
    assert tuned.model_pins({"num_parallel": 2}) == {}
    # one slot per concurrent request (the workload's 2), whatever the generic rules said
    assert tuned.rule_based()["num_parallel"] == 2
