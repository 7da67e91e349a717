"""Where tests/realserver.py keeps the real Ollama: a user cache that outlives clones, a lock."""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest

from tests import realserver

FAKE_SETUP = """\
set -eu
echo "run${OLLAMA_FLAVOR:+ $OLLAMA_FLAVOR}" >> "$(dirname "$0")/runs"
mkdir -p "$1/ollama" "$1/venv/lib"
printf '#!/bin/sh\\n' > "$1/ollama/ollama-lib"
echo 'export OLLAMA_RT=x' > "$1/env.sh"
"""


def _lock_is_free(cache: Path) -> bool:
    """Whether another open of the lock file could take it now (flock locks belong to the open
    file, so this conflicts with a holder in this process as it would with another process)."""
    with (cache / ".lock").open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def test_default_cache_is_the_users_not_the_checkouts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    default = home / ".cache" / "velollm-tests" / "realrt"
    assert realserver.user_cache_dir({}, home) == default
    assert realserver.user_cache_dir({"XDG_CACHE_HOME": ""}, home) == default
    assert realserver.user_cache_dir({"XDG_CACHE_HOME": "relative"}, home) == default  # XDG spec
    assert realserver.user_cache_dir({"XDG_CACHE_HOME": "/srv/cache"}, home) == \
        Path("/srv/cache/velollm-tests/realrt")


def test_prefix_variable_overrides_the_default(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.delenv("VELOLLM_TEST_OLLAMA_PREFIX", raising=False)
    # Resolved when the plugin loaded, before conftest gave this test a scratch XDG_CACHE_HOME.
    assert realserver.cache_dir() == realserver.DEFAULT_CACHE
    monkeypatch.setenv("VELOLLM_TEST_OLLAMA_PREFIX", str(tmp_path / "mine"))
    assert realserver.cache_dir() == tmp_path / "mine"


def test_provisioned_once_and_again_when_the_cache_is_gone(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    realrt = tmp_path / "realrt"
    realrt.mkdir()
    (realrt / "setup_ollama_cpu.sh").write_text(FAKE_SETUP, encoding="utf-8")
    monkeypatch.setattr(realserver, "REALRT", realrt)
    cache = tmp_path / "cache"

    binary, env = realserver._provision(cache)
    assert binary == cache / "ollama-0.5.4" / "ollama" / "ollama-lib" and binary.is_file()
    assert env == {"LD_LIBRARY_PATH": str(cache / "ollama-0.5.4" / "venv" / "lib")}
    realserver._provision(cache)
    assert (realrt / "runs").read_text().split() == ["run", "0.5.4"]  # not installed again

    (cache / "ollama-0.5.4" / "ollama" / "ollama-lib").unlink()  # half gone
    realserver._provision(cache)
    shutil.rmtree(cache)  # all gone
    realserver._provision(cache)
    assert (realrt / "runs").read_text().split() == ["run", "0.5.4"] * 3
    assert binary.is_file()


def test_find_runtime_holds_the_cache_lock(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    cache = tmp_path / "missing" / "cache"  # created on demand
    monkeypatch.setenv("VELOLLM_TEST_OLLAMA_PREFIX", str(cache))
    seen: list[tuple[Path, bool]] = []

    def provision_and_build(at: Path) -> str:
        seen.append((at, _lock_is_free(at)))
        return "none here"

    monkeypatch.setattr(realserver, "_find_runtime", provision_and_build)
    assert realserver.find_runtime() == "none here"
    assert seen == [(cache, False)]  # no other pytest process could provision meanwhile
    assert _lock_is_free(cache)  # and it is released afterwards


def test_unusable_cache_is_a_reason_not_a_crash(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("VELOLLM_TEST_OLLAMA_PREFIX", str(blocker / "cache"))
    why = realserver.find_runtime()
    assert isinstance(why, str) and "VELOLLM_TEST_OLLAMA_PREFIX" in why and str(blocker) in why


def test_second_flavor_has_its_own_cache_beside_the_first(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("VELOLLM_TEST_OLLAMA_PREFIX", str(tmp_path / "rt"))
    assert realserver.cache_dir() == tmp_path / "rt"
    assert realserver.cache_dir("0.9.3") == tmp_path / "rt-0.9.3"  # its own lock file too
    monkeypatch.delenv("VELOLLM_TEST_OLLAMA_PREFIX")
    assert realserver.cache_dir("0.9.3") == realserver.DEFAULT_CACHE.with_name("realrt-0.9.3")


def test_second_flavor_is_provisioned_with_its_flavor(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    realrt = tmp_path / "realrt"
    realrt.mkdir()
    (realrt / "setup_ollama_cpu.sh").write_text(FAKE_SETUP, encoding="utf-8")
    monkeypatch.setattr(realserver, "REALRT", realrt)
    cache = tmp_path / "cache-0.9.3"
    binary, env = realserver._provision(cache, "0.9.3")
    prefix = cache / "ollama-0.9.3"
    assert binary == prefix / "ollama" / "ollama-lib" and binary.is_file()
    assert env == {"LD_LIBRARY_PATH": f"{prefix / 'llama'}:{prefix / 'venv' / 'lib'}"}
    realserver._provision(cache, "0.9.3")
    assert (realrt / "runs").read_text().split() == ["run", "0.9.3"]  # once, with its flavor
