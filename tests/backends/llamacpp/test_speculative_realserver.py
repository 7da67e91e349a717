"""`velollm benchmark --speculative` against real llama-servers it starts itself: SmolLM2-135M
Q8_0 (requantized with the build's llama-quantize) as the target, its Q4_1 as the draft, and a
generated model with another tokenizer that must be refused. Asserts on counts, never timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cliutil import cli
from tests.realllama import LlamaRuntime

pytestmark = pytest.mark.realserver
TINY = Path(__file__).resolve().parents[2] / "realrt" / "make_tiny_gguf.py"


@pytest.fixture(scope="module")
def models(llama_runtime: LlamaRuntime, tmp_path_factory: pytest.TempPathFactory
           ) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("spec")
    target = work / "smollm2-q8_0.gguf"
    subprocess.run([str(llama_runtime.bin_dir / "llama-quantize"), "--allow-requantize",
                    str(llama_runtime.model), str(target), "Q8_0", "1"], check=True,
                   capture_output=True, timeout=300)
    other = work / "drafts" / "other-tokenizer.gguf"
    other.parent.mkdir()
    subprocess.run([sys.executable, str(TINY), str(other)], check=True, capture_output=True)
    return {"target": target, "draft": llama_runtime.model, "other": other,
            "server": llama_runtime.server}


def test_the_sweep_measures_drafts_honestly_and_refuses_another_tokenizer(
        models: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "--json", "benchmark", "--speculative", "--backend", "llamacpp",
                         "--model", str(models["target"]), "--binary", str(models["server"]),
                         "--draft", str(models["draft"]), "--draft", str(models["other"]),
                         "--spec-type", "ngram-mod", "--spec-type", "draft-simple",
                         "--draft-max", "3", "--reps", "2", "--num-predict", "24",
                         "--threads", "1", "--side-by-side")
    assert code == 0, err
    doc = json.loads(out)
    rows = {r["label"]: r for r in doc["candidates"]}
    draft = rows[f"draft {models['draft'].name} n-max 3"]
    assert next(iter(rows)) == "none" and "ngram-mod" in rows
    assert [r["draft"] for r in doc["refused_drafts"]] == [str(models["other"])]
    assert "tokenizer" in doc["refused_drafts"][0]["why"]
    # Greedy speculation is lossless: every candidate's text is the baseline's.
    assert all(r["same_output"] for r in doc["candidates"][1:]), doc["candidates"]
    # A Q4_1 draft of the same model agrees with its Q8_0 most of the time ...
    assert draft["acceptance"] > 0.5
    # ... the responses' timings and /metrics count the same drafts ...
    assert draft["metrics_agree"] is True
    # ... and the counts repeat exactly from one repetition to the next.
    for prompt in {s["prompt"] for s in draft["samples"]}:
        counts = {(s["draft_n"], s["draft_accepted"]) for s in draft["samples"]
                  if s["prompt"] == prompt}
        assert len(counts) == 1, (prompt, draft["samples"])
    advice = doc["recommendation"]
    if advice["candidate"] is not None:  # only a confirmed speedup may be recommended
        chosen = rows[advice["candidate"]]
        assert chosen["speedup"]["ci_low"] > 1 and chosen["same_output"]
        assert doc["pins"]["spec_type"] == chosen["settings"]["spec_type"]
    else:
        assert doc["pins"] == {"spec_type": "none"} and "keep speculation off" in advice["why"]


def test_the_text_report_has_the_table_and_a_recommendation(
        models: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "benchmark", "--speculative", "--backend", "llamacpp",
                         "--model", str(models["target"]), "--binary", str(models["server"]),
                         "--spec-type", "ngram-mod", "--reps", "1", "--num-predict", "16",
                         "--threads", "1")
    assert code == 0, err
    assert "speedup (95% interval)" in out and "ngram-mod" in out
    assert "Recommendation:" in out


def test_ollama_says_what_it_supports_and_skips(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = cli(capsys, "--json", "benchmark", "--speculative", "--backend", "ollama")
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "skipped" and "draft_num_predict" in doc["reason"]


def test_an_unknown_spec_type_names_the_supported_ones(
        models: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = cli(capsys, "benchmark", "--speculative", "--backend", "llamacpp",
                          "--model", str(models["target"]), "--binary", str(models["server"]),
                          "--spec-type", "telepathy")
    assert code == 2
    assert "does not know --spec-type telepathy" in err and "ngram-mod" in err
