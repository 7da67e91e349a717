"""GGUF metadata read by the gguf library from real files written by it (make_tiny_gguf.py), the
clear errors for a missing, foreign or truncated file; and the build number of a binary, asked
with a deadline."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from velollm.backends.llamacpp import install
from velollm.backends.llamacpp.modelinfo import from_gguf, gather, model_paths
from velollm.errors import ConfigError

MAKE_TINY = Path(__file__).resolve().parents[3] / "tests" / "realrt" / "make_tiny_gguf.py"


def tiny(tmp_path: Path, *args: str) -> Path:
    script = MAKE_TINY
    out = tmp_path / "tiny.gguf"
    subprocess.run([sys.executable, str(script), str(out), *args], check=True, timeout=120,
                   capture_output=True)
    return out


def test_reads_the_memory_facts_without_the_weights(tmp_path: Path) -> None:
    path = tiny(tmp_path)
    info = from_gguf(path, "tiny")
    assert info.name == "tiny" and info.architecture == "llama"
    assert info.block_count > 0 and len(info.head_count_kv) == info.block_count
    assert info.key_length > 0 and info.context_length > 0
    assert info.size_bytes == path.stat().st_size
    assert info.parameter_count and info.parameter_count > 0
    # the tensor table, per layer, for the memory model's placement (core/llama_fit.py)
    assert info.layer_bytes is not None and len(info.layer_bytes) == info.block_count
    assert all(b > 0 for b in info.layer_bytes) and info.input_bytes
    weights = sum(info.layer_bytes) + (info.input_bytes or 0) + (info.output_bytes or 0)
    assert 0 < info.size_bytes - weights < info.size_bytes // 2  # the rest: header, vocabulary
    assert info.feed_forward_length and info.expert_bytes is None


def test_missing_foreign_and_truncated_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        from_gguf(tmp_path / "none.gguf")
    (tmp_path / "x.gguf").write_text("not a model")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        from_gguf(tmp_path / "x.gguf")
    whole = tiny(tmp_path).read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(ConfigError, match="not a complete GGUF file"):
        from_gguf(cut)
    infos, notes = gather([(cut, "cut")])
    assert infos == [] and "cut" in notes[0]


def test_model_paths_expand_home_and_name_by_alias(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    got = model_paths([{"path": "~/m/qwen.gguf"}, {"path": "/x/y.gguf", "alias": "y1"}])
    assert got == [(tmp_path / "m/qwen.gguf", "qwen"), (Path("/x/y.gguf"), "y1")]


def _script(tmp_path: Path, body: str) -> Path:
    exe = tmp_path / "llama-server"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    return exe


def test_build_from_upstream_and_debian_version_lines(tmp_path: Path) -> None:
    exe = _script(tmp_path, "echo 'version: 11669 (abc1234)' >&2; echo 'built with cc' >&2")
    assert install.probe("llama-server", str(exe)).build == "b11669"
    (tmp_path / "deb").mkdir()
    deb = _script(tmp_path / "deb", "echo 'version: 0.7.0 (build 11669, commit Debian)' >&2")
    assert install.read_build(str(deb))[0] == "b11669"


def test_a_hanging_binary_is_given_up_on_at_the_deadline(tmp_path: Path) -> None:
    exe = _script(tmp_path, "sleep 30")
    start = time.monotonic()
    build, detail = install.read_build(str(exe), deadline=0.5)
    assert build is None and "did not answer" in detail
    assert time.monotonic() - start < 10


def test_missing_binary(tmp_path: Path) -> None:
    got = install.probe("llama-server", str(tmp_path / "nope"))
    assert got.path is None and got.build is None and "not found" in got.detail


def test_real_binary_when_installed() -> None:
    path = shutil.which("llama-server")
    if path is None:
        pytest.skip("llama-server is not on PATH")
    assert (install.read_build(path)[0] or "").startswith("b")
