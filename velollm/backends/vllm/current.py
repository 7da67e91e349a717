"""The running vLLM server on this machine: its process (matched by the port it was started
with), the arguments on its command line and the VLLM_* variables in its environment.

vLLM has no endpoint that reports its arguments, so argv is the first evidence; /v1/models and
/metrics (verify.py) say what it made of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from velollm.backends.base import Observed, ServerProcess
from velollm.backends.vllm.address import base_url as to_url
from velollm.backends.vllm.knobs import argv_settings
from velollm.io.processes import find_processes

_MODULES = ("vllm.entrypoints.openai.api_server", "vllm.entrypoints.cli.main")


def is_vllm(argv: Sequence[str]) -> bool:
    """`vllm serve ...` or `python -m vllm.entrypoints.openai.api_server ...`."""
    if len(argv) >= 2 and Path(argv[0]).name == "vllm" and argv[1] == "serve":
        return True
    if len(argv) >= 3 and Path(argv[1]).name == "vllm" and argv[2] == "serve":
        return True  # python /venv/bin/vllm serve
    return any(argv[i] == "-m" and argv[i + 1] in _MODULES for i in range(len(argv) - 1))


def find_server_processes(proc: Path = Path("/proc")) -> list[ServerProcess]:
    return [ServerProcess(pid, argv, environ) for pid, argv, environ
            in find_processes(lambda argv: is_vllm(argv), proc)]


def _port(url: str) -> str:
    return to_url(url).rsplit(":", 1)[-1]


def match_server(processes: Sequence[ServerProcess], base_url: str) -> ServerProcess | None:
    """The process started with the port of `base_url` (vLLM's default 8000 when it has no
    --port). vLLM's engine core runs in a child process with the same command line, so the
    lowest pid (the API server, which starts it) wins."""
    want = _port(base_url)
    for p in processes:
        _, settings = argv_settings(p.cmdline)
        if settings.get("--port", "8000") == want:
            return p
    return None


def running_settings(process: ServerProcess) -> dict[str, str]:
    """The process's settings as velollm names them: its catalogued arguments and VLLM_*."""
    _, settings = argv_settings(process.cmdline)
    env = {k: v for k, v in (process.environ or {}).items() if k.startswith("VLLM_")}
    return {**env, **settings}


def settings_now(base_url: str, proc: Path = Path("/proc")) -> dict[str, Observed]:
    process = match_server(find_server_processes(proc), base_url)
    if process is None:
        return {}
    source = f"running server (pid {process.pid})"
    return {k: Observed(v, source) for k, v in running_settings(process).items()}


def server_pid(base_url: str) -> int | None:
    process = match_server(find_server_processes(), base_url)
    return None if process is None else process.pid
