"""llama.cpp's targets, byte for byte (golden files), their default paths and auto selection.
Regenerate a golden file only after checking the new render by hand (and in the real parsers:
test_targets_roundtrip.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from velollm.backends.llamacpp.targets import KINDS, auto_target, default_path, render_target

GOLDEN = Path(__file__).parent / "golden"
ENV = {"LLAMA_ARG_CTX_SIZE": "16384", "LLAMA_ARG_N_PARALLEL": "2",
       "LLAMA_ARG_FLASH_ATTN": "on", "LLAMA_ARG_CACHE_TYPE_K": "q8_0",
       "LLAMA_ARG_CACHE_TYPE_V": "q8_0", "LLAMA_ARG_HOST": "127.0.0.1",
       "LLAMA_ARG_PORT": "8080", "LLAMA_ARG_MODEL": "/srv/models dir/qwen's.gguf"}
MODELS = {"qwen": {"LLAMA_ARG_MODEL": "/srv/models/qwen.gguf"},
          "smol": {"LLAMA_ARG_MODEL": "/srv/models/smol.gguf", "LLAMA_ARG_CTX_SIZE": "4096"}}
HOME = Path("/home/user")


@pytest.mark.parametrize("kind", KINDS)
def test_every_target_matches_its_golden_file(kind: str) -> None:
    env = {k: v for k, v in ENV.items() if kind != "preset" or k != "LLAMA_ARG_MODEL"}
    files = render_target(kind, env, path=None, home=HOME,
                          models=MODELS if kind == "preset" else None,
                          unset=("LLAMA_ARG_DRAFT_MAX",), binary="/usr/bin/llama-server")
    [rendered] = files
    assert rendered.content == (GOLDEN / f"{kind}.golden").read_text(encoding="utf-8")
    assert rendered.path == default_path(kind, HOME) and rendered.pickup


def test_default_paths() -> None:
    assert default_path("shell", HOME) == HOME / ".config/velollm/llamacpp.env.sh"
    assert default_path("systemd", HOME) == Path(
        "/etc/systemd/system/llama-server.service.d/velollm.conf")
    assert default_path("systemd-user", HOME) == HOME / ".config/systemd/user/llama-server.service"


@pytest.mark.parametrize(("platform", "unit", "kind"), [
    ("linux", True, "systemd"), ("linux", False, "shell"), ("darwin", False, "launchd")])
def test_auto_target(platform: str, unit: bool, kind: str) -> None:
    assert auto_target(platform, unit) == kind
