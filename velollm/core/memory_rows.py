"""The `memory` entries of `plan --json`: one per model and device, for the settings the plan writes.

Pure. Each row holds model, device ("cpu", "gpu0", ...), weights_bytes, kv_bytes, compute_bytes,
other_bytes and total_bytes. Ollama >= 0.30 (an estimate from core/memory_llama.py) gives the rows of
llama-server's allocation; older Ollama the rows of memory.py's re-implementation of its estimator,
where "other" is the per-GPU reserve plus Ollama's spare layer, and a multi-GPU split of layers and
KV is in proportion to each GPU's share of the layered bytes (that estimator keeps no finer split).
"""

from __future__ import annotations

from collections.abc import Sequence

from velollm.core.memory import Estimate, Gpu
from velollm.core.memory_llama import LlamaEstimate

Row = dict[str, object]


def rows(est: Estimate, gpus: Sequence[Gpu], num_gpu: int | None = None) -> list[Row]:
    if isinstance(est, LlamaEstimate):
        return est.allocation(gpus, num_gpu).as_rows()
    return _estimator_rows(est, gpus, num_gpu)


def _row(model: str, device: str, weights: int, kv: int, compute: int, other: int) -> Row:
    return {"model": model, "device": device, "weights_bytes": weights, "kv_bytes": kv,
            "compute_bytes": compute, "other_bytes": other,
            "total_bytes": weights + kv + compute + other}


def _estimator_rows(est: Estimate, gpus: Sequence[Gpu], num_gpu: int | None) -> list[Row]:
    name, n = est.model.name, est.model.block_count
    if not gpus or num_gpu == 0:
        return [_row(name, "cpu", est.weights, est.kv, est.graph_full, est.buffer_layer)]
    place = est.fits(gpus, num_gpu=num_gpu)
    on_gpu = min(place.layers, n)  # Ollama places the last layers first, the output layer last
    gpu_weights = est.layer_weights * on_gpu + (est.output_weights if place.full else 0)
    gpu_kv = sum(est.kv_layers[n - on_gpu:]) if on_gpu else 0
    graph = est.graph_full if place.full else est.graph_partial
    out: list[Row] = []
    used = [i for i, b in enumerate(place.gpu_bytes) if b]
    reserves = {i: gpus[i].reserve + est.buffer_layer for i in used}
    layered = {i: max(place.gpu_bytes[i] - graph - reserves[i], 0) for i in used}
    whole = sum(layered.values()) or 1
    for i in used:
        share = layered[i] / whole
        out.append(_row(name, f"gpu{i}", int(gpu_weights * share), int(gpu_kv * share), graph,
                        reserves[i]))
    cpu_weights = 0 if place.full else max(est.weights - gpu_weights, 0)
    cpu_kv = est.kv - gpu_kv
    if cpu_weights or cpu_kv:
        out.insert(0, _row(name, "cpu", cpu_weights, cpu_kv, 0 if place.full else graph, 0))
    return out
