"""The llama-server side of the speculative sweep, without a server: what a build supports (from
its real --help), the candidates, the plausibility of timings, and the tokenizer check (real GGUF
files: a generated one with its own tokenizer, and SmolLM2 when the test cache has it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from velollm.backends.llamacpp import speculative, vocab
from velollm.errors import VelollmError

DATA = Path(__file__).resolve().parents[2] / "data" / "llamacpp"
TINY = Path(__file__).resolve().parents[2] / "realrt" / "make_tiny_gguf.py"


def test_supported_types_come_from_the_builds_help() -> None:
    text = (DATA / "llama-server-help-b11669.txt").read_text()
    types = speculative.supported_types(text)
    assert types[0] == "none"
    assert {"draft-simple", "ngram-simple", "ngram-mod", "ngram-cache"} <= set(types)
    assert speculative.supported_types("--threads N  number of threads\n") == ()


def test_candidates_start_with_the_baseline_and_cover_every_draft_setting() -> None:
    cands = speculative.candidates(["ngram-mod", "draft-simple"], [Path("/m/d.gguf")], [3, 8],
                                   [2], ["0"])
    assert [c.label for c in cands] == ["none", "ngram-mod", "draft d.gguf n-max 3 td 2 ngld 0",
                                        "draft d.gguf n-max 8 td 2 ngld 0"]
    assert cands[0].args == ("--spec-type", "none")
    assert cands[2].args == ("--spec-type", "draft-simple", "-md", "/m/d.gguf",
                             "--spec-draft-n-max", "3", "-td", "2", "-ngld", "0")
    assert cands[2].settings == {"spec_type": "draft-simple", "draft_model": "/m/d.gguf",
                                 "draft_max": "3", "draft_threads": "2",
                                 "draft_gpu_layers": "0"}


PROMPT = speculative.SpecPrompt("p", "code", "x")


@pytest.mark.parametrize(("timings", "problem"), [
    (None, "without the server's timings"),
    ({"predicted_n": 64, "predicted_ms": 0.000001}, "implausible timings"),  # 64e9 tokens/s
    ({"predicted_n": 64, "predicted_ms": 1500}, None),
    ({"predicted_n": 64, "predicted_ms": 9_000_000}, "implausible timings"),
    ({"predicted_n": -3, "predicted_ms": 100}, "implausible timings"),
    ({"predicted_n": "64", "predicted_ms": 100}, "implausible timings"),
    ({"predicted_n": 64, "predicted_ms": 1000, "draft_n": 10, "draft_n_accepted": 11},
     "implausible draft counts"),
])
def test_timings_that_cannot_be_true_are_failed_samples(timings: dict[str, object] | None,
                                                         problem: str | None) -> None:
    sample = speculative._sample(PROMPT, "text", timings, 5.0, wall_s=2.0)
    if problem is None:
        assert sample.problem is None
    else:
        assert sample.problem is not None and problem in sample.problem
        assert sample.decode_tps is None


def test_decode_speed_is_the_servers_own() -> None:
    sample = speculative._sample(PROMPT, "t", {"predicted_n": 64, "predicted_ms": 1600,
                                               "draft_n": 40, "draft_n_accepted": 30}, 5.0, 2.0)
    assert sample.decode_tps == 40.0
    assert (sample.draft_n, sample.draft_accepted) == (40, 30)


def tiny(tmp: Path, name: str, *extra: str) -> Path:
    out = tmp / name
    subprocess.run([sys.executable, str(TINY), str(out), *extra], check=True,
                   capture_output=True)
    return out


def test_a_model_shares_its_own_tokenizer(tmp_path: Path) -> None:
    a = tiny(tmp_path, "a.gguf")
    b = tiny(tmp_path, "b.gguf", "--layers", "1", "--seed", "7")  # other weights, same tokenizer
    assert vocab.mismatch(vocab.vocabulary(a), vocab.vocabulary(b)) is None


def test_another_tokenizer_is_refused_with_the_reason(tmp_path: Path) -> None:
    from tests.realllama import SMOLLM2_FILE, cache_dir

    smol = cache_dir() / "models" / SMOLLM2_FILE
    if not smol.is_file():  # the real-server tests provision it; this test reads it only
        from tests.realllama import find_llama_runtime

        found = find_llama_runtime()
        assert not isinstance(found, str), found
        smol = found.model
    why = vocab.mismatch(vocab.vocabulary(smol), vocab.vocabulary(tiny(tmp_path, "t.gguf")))
    assert why == "its tokenizer is 'llama', the target's 'gpt2'"


def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all" * 10)
    with pytest.raises(VelollmError, match="is not a GGUF file"):
        vocab.vocabulary(bad)
