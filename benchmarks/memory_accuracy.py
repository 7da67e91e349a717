"""core/llama_memory.py against real llama-server allocations, over a grid of models and settings.

For each cell (model x context x slots x K/V types x flash attention x ubatch) it starts a real
llama-server (`-t 1`, 127.0.0.1, a free port, `--no-warmup`), reads llama.cpp's own buffer lines
(model/KV/RS/output/compute buffer size, core/llama_log.py) and the server's --fit projection,
stops it by its pid, runs `llama-fit-params` with the same arguments for its projection, and prints
the model's numbers next to the reported ones. Goal: every cell within +-3 % or +-64 MiB of the
reported total, and never under by more.

Models: SmolLM2-135M Q4_1 and Gemma 3 270M (sliding window) from their PyPI wheels; generated GQA
(llama), MoE (qwen3moe), hybrid Mamba-2 (granitehybrid), LFM2 and DeepSeek-style MLA models
(benchmarks/tiny_arch_gguf.py).
llama.cpp is the one of tests/llama_memory_rt.py (Debian sid build into the test cache) or --bin-dir.
llama-fit-params takes no --kv-unified: its column is "-" for the unified cells ("3u").

usage: python benchmarks/memory_accuracy.py [--bin-dir DIR] [--quick] [--models a,b] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gguf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import tiny_arch_gguf

from tests import llama_memory_rt
from velollm.core import llama_log, models, tensors
from velollm.core.llama_memory import LlamaSettings, allocate

MIB = 1024**2
START_TIMEOUT_S = 120.0
# K/V types x flash attention; a quantized V cache needs flash attention.
KV_FA = (("f16", "f16", True), ("q8_0", "q8_0", True), ("q4_0", "q8_0", True), ("f16", "f16", False))


@dataclass(frozen=True)
class Cell:
    model: str
    ctx_per_slot: int
    slots: int
    type_k: str
    type_v: str
    fa: bool
    ubatch: int
    unified: bool = False  # one KV stream for all slots (--kv-unified)

    def args(self) -> list[str]:
        return ["-c", str(self.ctx_per_slot * self.slots), "-np", str(self.slots),
                "-ub", str(self.ubatch), "-ctk", self.type_k, "-ctv", self.type_v,
                "-fa", "on" if self.fa else "off", "-t", "1",
                *(["--kv-unified"] if self.unified else [])]


@dataclass(frozen=True)
class Row:
    cell: Cell
    ours: dict[str, int]  # weights, kv, compute, other, total
    real: dict[str, int]
    fit_params_mib: int | None  # llama-fit-params' projection of the same arguments
    server_projection_mib: int | None
    rss_bytes: int | None

    @property
    def error(self) -> float:
        return (self.ours["total"] - self.real["total"]) / self.real["total"]

    @property
    def ok(self) -> bool:
        diff = self.ours["total"] - self.real["total"]
        return abs(diff) <= max(0.03 * self.real["total"], 64 * MIB)


def model_info(path: Path, name: str) -> models.ModelInfo:
    """ModelInfo of a GGUF file, with its tensor sizes (gguf-py reads the header only)."""
    reader = gguf.GGUFReader(str(path))
    info: dict[str, Any] = {}
    vocab = 0
    for key, field in reader.fields.items():
        if key == "tokenizer.ggml.tokens":
            vocab = len(field.data)
        elif not key.startswith("tokenizer."):
            info[key] = field.contents()
    arch = str(info.get("general.architecture"))
    info.setdefault(f"{arch}.vocab_size", vocab)
    base = models.from_metadata(name, info, path.stat().st_size)
    return tensors.with_tensors(base, [(t.name, int(t.n_bytes)) for t in reader.tensors])


def ours(info: models.ModelInfo, cell: Cell) -> dict[str, int]:
    alloc = allocate(info, LlamaSettings(cell.ctx_per_slot, cell.slots, cell.ubatch, 2048,
                                         cell.type_k, cell.type_v, cell.fa,
                                         kv_unified=cell.unified))
    cpu = alloc.devices[0]
    return {"weights": cpu.weights_bytes, "kv": cpu.kv_bytes, "compute": cpu.compute_bytes,
            "other": cpu.other_bytes, "total": cpu.total_bytes}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(bin_dir: Path, gguf_path: Path, cell: Cell, workdir: Path) -> tuple[str, int | None]:
    """Start llama-server, wait for its compute buffer line, read its RSS, stop it by its pid."""
    log_path = workdir / "server.log"
    argv = [str(bin_dir / "llama-server"), "-m", str(gguf_path), "--host", "127.0.0.1",
            "--port", str(free_port()), "--no-warmup", "-lv", "4", *cell.args()]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    rss = None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            text = log_path.read_text(errors="replace")
            if "compute buffer size" in text and "listening" in text:
                rss = _rss(proc.pid)
                break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return log_path.read_text(errors="replace"), rss


def _rss(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


def fit_params(bin_dir: Path, gguf_path: Path, cell: Cell) -> int | None:
    done = subprocess.run([str(bin_dir / "llama-fit-params"), "-m", str(gguf_path), "-lv", "4", *cell.args()],
                          capture_output=True, text=True, timeout=300, check=False)
    return llama_log.parse(done.stdout + done.stderr).projected_mib


def measure(bin_dir: Path, gguf_path: Path, info: models.ModelInfo, cell: Cell, workdir: Path) -> Row:
    log, rss = serve(bin_dir, gguf_path, cell, workdir)
    buffers = llama_log.parse(log)
    if not buffers.complete:
        raise RuntimeError(f"{cell}: llama-server reported no complete memory breakdown:\n{log[-2000:]}")
    real = {"weights": buffers.get("cpu", "model"), "kv": buffers.get("cpu", "KV"),
            "compute": buffers.get("cpu", "compute"),
            "other": buffers.get("cpu", "output") + buffers.get("cpu", "RS"), "total": buffers.total("cpu")}
    return Row(cell, ours(info, cell), real, fit_params(bin_dir, gguf_path, cell), buffers.projected_mib, rss)


def grid(name: str, quick: bool) -> list[Cell]:
    ctxs, slots, ubs = ((4096,), (1, 3), (512,)) if quick else ((2048, 8192), (1, 4), (512,))
    # MLA models refuse different K and V types (llama_init_from_model)
    kv_fa = [kvf for kvf in KV_FA if name != "mla" or kvf[0] == kvf[1]]
    cells = [Cell(name, c, s, k, v, fa, ub)
             for c, s, (k, v, fa), ub in itertools.product(ctxs, slots, kv_fa, ubs)]
    extra = ((128, True), (1024, False)) if quick else ((128, True), (2048, True), (256, False))
    cells += [Cell(name, 4096, 2, "f16", "f16", fa, ub) for ub, fa in extra]
    cells += [Cell(name, 4096, 3, "f16", "f16", fa, 512, unified=True)
              for fa in ((True,) if quick else (True, False))]
    return cells


def model_files(workdir: Path, wanted: set[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    if "smollm2" in wanted:
        files["smollm2"] = llama_memory_rt.model(llama_memory_rt.SMOLLM2)
    if "gemma3" in wanted:
        files["gemma3"] = llama_memory_rt.model(llama_memory_rt.GEMMA3)
    if "gqa" in wanted:
        files["gqa"] = workdir / "gqa.gguf"
        subprocess.run([sys.executable, str(ROOT / "tests" / "realrt" / "make_tiny_gguf.py"), str(files["gqa"]),
                        "--embd", "512", "--layers", "6", "--heads", "8", "--kv-heads", "2", "--ff", "1024",
                        "--f16", "--ctx", "8192"], check=True, capture_output=True)
    for name in ("moe", "hybrid", "lfm2", "mla"):
        if name in wanted:
            files[name] = workdir / f"{name}.gguf"
            tiny_arch_gguf.BUILDERS[name](files[name])
    return files


def mib(n: int | None) -> str:
    return "-" if n is None else f"{n / MIB:8.2f}"


def print_rows(rows: list[Row]) -> None:
    print(f"{'model':8} {'ctx':>5} {'np':>3} {'K/V':9} {'fa':3} {'ub':>4} | {'ours MiB':>8} "
          f"{'real MiB':>8} {'err %':>6} | {'kv ours':>8} {'kv real':>8} {'cmp ours':>8} {'cmp real':>8} "
          f"| {'fit-par':>7} {'srv fit':>7} {'RSS':>8}")
    for r in rows:
        c = r.cell
        slots = f"{c.slots}{'u' if c.unified else ''}"
        print(f"{c.model:8} {c.ctx_per_slot:5} {slots:>3} {c.type_k + '/' + c.type_v:9} "
              f"{'on' if c.fa else 'off':3} {c.ubatch:4} | {mib(r.ours['total'])} {mib(r.real['total'])} "
              f"{100 * r.error:+6.2f} | {mib(r.ours['kv'])} {mib(r.real['kv'])} {mib(r.ours['compute'])} "
              f"{mib(r.real['compute'])} | {r.fit_params_mib if r.fit_params_mib is not None else '-':>7} "
              f"{r.server_projection_mib if r.server_projection_mib is not None else '-':>7} "
              f"{mib(r.rss_bytes)}{'' if r.ok else '  OUTSIDE +-3 % / 64 MiB'}")
    errors = [r.error for r in rows]
    print(f"\n{len(rows)} cells, total error {100 * min(errors):+.2f} % .. {100 * max(errors):+.2f} %, "
          f"{sum(not r.ok for r in rows)} outside the goal")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", type=Path, help="a llama.cpp build with llama-server, llama-fit-params")
    parser.add_argument("--quick", action="store_true", help="a smaller grid")
    parser.add_argument("--models", default="smollm2,gemma3,gqa,moe,hybrid,lfm2,mla")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bin_dir = args.bin_dir or llama_memory_rt.llama_bin_dir()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="velollm-memgrid-") as tmp:
        workdir = Path(tmp)
        for name, path in model_files(workdir, set(args.models.split(","))).items():
            info = model_info(path, name)
            for cell in grid(name, args.quick):
                rows.append(measure(bin_dir, path, info, cell, workdir))
                print(f"{len(rows):3} {cell}: {100 * rows[-1].error:+.2f} %", file=sys.stderr)
    if args.json:
        print(json.dumps([{**asdict(r), "error": r.error, "ok": r.ok} for r in rows], indent=1))
    else:
        print_rows(rows)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
