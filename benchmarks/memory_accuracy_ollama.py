"""Ollama 0.5.4's estimator (core/memory.py) vs a real Ollama: estimated bytes against /api/ps `size`.

Needs a real Ollama and the `gguf` package. The Ollama is the one the real-server tests use
(tests/realserver.py: $VELOLLM_TEST_OLLAMA_BIN, else Ollama 0.5.4 CPU provisioned by
tests/realrt/setup_ollama_cpu.sh into the test cache, else `ollama` on PATH), or the build that
setup_ollama_cpu.sh installed into `--prefix DIR`. Starts one server per server-side setting
(OLLAMA_NUM_PARALLEL, OLLAMA_KV_CACHE_TYPE) on a free loopback port, with a scratch HOME and
OLLAMA_MODELS, loads tiny generated models at several num_ctx, and prints estimate, real size and
relative error. On CPU this checks Ollama's CPU path (no per-GPU reserve).

usage: python benchmarks/memory_accuracy_ollama.py [--prefix DIR] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import realserver
from velollm.core import memory, models

MAKE_TINY = realserver.REALRT / "make_tiny_gguf.py"
# (name, make_tiny_gguf.py arguments): a spread of widths, depths, GQA and weight types.
TINY_MODELS = (
    ("tiny64", ["--embd", "64", "--layers", "2", "--ff", "128"]),
    ("bench256", ["--embd", "256", "--layers", "4", "--ff", "768", "--f16"]),
    ("gqa512", ["--embd", "512", "--layers", "6", "--heads", "8", "--kv-heads", "2",
                "--ff", "1024", "--f16", "--ctx", "8192"]),
)
CASES = ((1, "f16", (2048, 4096)), (4, "f16", (2048,)), (2, "q8_0", (2048,)))


@dataclass(frozen=True)
class Ollama:
    """An `ollama` executable and the environment it needs (LD_LIBRARY_PATH of a provisioned
    build); tests/realserver.py's Runtime has the same two fields."""

    binary: Path
    env: dict[str, str]


def from_prefix(prefix: Path) -> Ollama | str:
    """The build setup_ollama_cpu.sh installed into `prefix`, or why there is none."""
    binary = prefix / "ollama" / "ollama-lib"
    if not (prefix / "env.sh").is_file() or not binary.is_file():
        return (f"{prefix} holds no Ollama from setup_ollama_cpu.sh: run "
                f"bash {realserver.REALRT / 'setup_ollama_cpu.sh'} {prefix}")
    return Ollama(binary, {"LD_LIBRARY_PATH": f"{prefix}/llama:{prefix}/venv/lib"})


def find_ollama() -> Ollama | str:
    """The real-server tests' Ollama (provisioned into their cache when missing), or why none."""
    runtime = realserver.find_runtime()
    return runtime if isinstance(runtime, str) else Ollama(runtime.binary, runtime.env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]

    def post(self, path: str, body: dict[str, Any], timeout: float = 120) -> Any:
        r = requests.post(self.url + path, json=body, timeout=timeout)
        r.raise_for_status()
        return r.json()

    def get(self, path: str) -> Any:
        r = requests.get(self.url + path, timeout=10)
        r.raise_for_status()
        return r.json()


@contextlib.contextmanager
def ollama_server(ollama: Ollama, workdir: Path, env: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    # Only what the server needs: no OLLAMA_* of the calling shell leaks into the measurement.
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                **ollama.env, "OLLAMA_HOST": f"127.0.0.1:{port}", "HOME": str(workdir / "home"),
                "OLLAMA_MODELS": str(workdir / "models"), **env}
    (workdir / "home").mkdir(parents=True, exist_ok=True)
    log = (workdir / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen([str(ollama.binary), "serve"], env=full_env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", proc)
    try:
        for _ in range(100):
            with contextlib.suppress(requests.RequestException):
                server.get("/api/version")
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"ollama did not start; see {log.name}")
        yield server
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the runner is a child in the same session
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def make_models(workdir: Path, which: tuple[tuple[str, list[str]], ...] = TINY_MODELS) -> dict[
        str, Path]:
    out = {}
    for name, args in which:
        path = workdir / f"{name}.gguf"
        if not path.exists():
            subprocess.run([sys.executable, str(MAKE_TINY), str(path), *args], check=True,
                           capture_output=True, timeout=120)
        out[name] = path
    return out


def create_model(server: Server, name: str, gguf: Path) -> None:
    data = gguf.read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    requests.post(f"{server.url}/api/blobs/{digest}", data=data, timeout=60).raise_for_status()
    server.post("/api/create", {"model": name, "modelfile": f"FROM @{digest}", "stream": False})


def model_info(server: Server, name: str) -> models.ModelInfo:
    show = server.post("/api/show", {"model": name, "verbose": True})
    tags = next(m for m in server.get("/api/tags")["models"] if m["name"].split(":")[0] == name)
    return models.from_show(show, {**tags, "name": name})


def measure(server: Server, name: str, num_ctx: int) -> int:
    """Load with this num_ctx and return /api/ps `size`."""
    server.post("/api/generate", {"model": name, "prompt": "", "keep_alive": "5m",
                                  "options": {"num_ctx": num_ctx}})
    running = server.get("/api/ps")["models"]
    size = next(int(m["size"]) for m in running if m["name"].split(":")[0] == name)
    server.post("/api/generate", {"model": name, "keep_alive": 0})
    return size


@dataclass(frozen=True)
class Row:
    model: str
    num_ctx: int
    num_parallel: int
    kv_type: str
    estimated: int
    real: int

    @property
    def error(self) -> float:
        return (self.estimated - self.real) / self.real


def run_all(ollama: Ollama, workdir: Path, cases: tuple[tuple[int, str, tuple[int, ...]], ...] = CASES,
            which: tuple[tuple[str, list[str]], ...] = TINY_MODELS) -> list[Row]:
    files = make_models(workdir, which)
    rows = []
    for parallel, kv_type, contexts in cases:
        env = {"OLLAMA_NUM_PARALLEL": str(parallel), "OLLAMA_KV_CACHE_TYPE": kv_type,
               "OLLAMA_FLASH_ATTENTION": "1" if kv_type != "f16" else "0",
               "OLLAMA_MAX_LOADED_MODELS": "1"}
        with ollama_server(ollama, workdir, env) as server:
            for name, path in files.items():
                create_model(server, name, path)
                info = model_info(server, name)
                for ctx in contexts:
                    real = measure(server, name, ctx)
                    # CPU: Ollama turns flash attention off, so the cache stays f16.
                    est = memory.estimate(info, ctx, parallel, "f16")
                    rows.append(Row(name, ctx, parallel, kv_type, est.total, real))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefix", type=Path,
                    help="a prefix setup_ollama_cpu.sh installed into (default: the Ollama of the "
                         "real-server tests, see tests/realserver.py; provisioned when missing)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ollama = from_prefix(args.prefix) if args.prefix else find_ollama()
    if isinstance(ollama, str):
        print(ollama, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="velollm-mem-") as tmp:
        rows = run_all(ollama, Path(tmp))
    if args.json:
        print(json.dumps([{**r.__dict__, "error": r.error} for r in rows], indent=2))
        return 0
    print(f"{'model':<10} {'ctx':>6} {'par':>3} {'kv env':<6} {'estimated':>12} {'real':>12} "
          f"{'error':>7}")
    for r in rows:
        print(f"{r.model:<10} {r.num_ctx:>6} {r.num_parallel:>3} {r.kv_type:<6} "
              f"{r.estimated:>12,} {r.real:>12,} {r.error:>+7.1%}")
    worst = max(abs(r.error) for r in rows)
    print(f"worst |error| {worst:.1%} over {len(rows)} loads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
