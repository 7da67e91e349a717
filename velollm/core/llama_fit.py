"""Layer placement as llama.cpp's `--fit` does it (common/fit.cpp), on top of the sizes of llama_kv.

Pure. --fit keeps `fit_target` MiB free on every GPU (default 1024). When the whole model does not fit
it fills the GPUs back to front with whole layers; for a MoE model it first moves every layer's expert
tensors to host memory and then brings experts back, last layers first, while they fit. Layers of
`-ngl N` are the last N (the output head counts as one more); the token embeddings stay on the host.
"""

from __future__ import annotations

from dataclasses import dataclass

from velollm.core import llama_kv
from velollm.core.models import ModelInfo

CPU = -1


@dataclass(frozen=True)
class Parts:
    """Every allocation of one context, per layer where llama.cpp allocates it per layer."""

    layer_weights: tuple[int, ...]
    expert_weights: tuple[int, ...]  # part of layer_weights in expert tensors
    input_weights: int
    output_weights: int
    kv: tuple[int, ...]
    recurrent: tuple[int, ...]
    compute: int
    host_compute: int  # the host's share when every layer runs on a GPU
    output: int  # logits buffer, host memory
    output_copy: int  # a tied output head: token_embd copied to a GPU that runs the output layer

    @property
    def weights_total(self) -> int:
        return sum(self.layer_weights) + self.input_weights + self.output_weights

    @classmethod
    def of(cls, model: ModelInfo, ctx: llama_kv.Context, type_k: str, type_v: str, fa: bool) -> Parts:
        n = model.block_count
        layers, inp, out = _weights(model)
        experts = tuple(model.expert_bytes[:n]) if model.expert_bytes else (0,) * n
        return cls(layers, experts + (0,) * (n - len(experts)), inp, out,
                   llama_kv.kv_layer_bytes(model, ctx, type_k, type_v, fa),
                   llama_kv.recurrent_layer_bytes(model, ctx),
                   llama_kv.compute_bytes(model, ctx, fa, type_k),
                   4 * ctx.ubatch * model.embedding_length * 2,
                   llama_kv.output_bytes(model, ctx), inp if model.tied_output else 0)


def _weights(model: ModelInfo) -> tuple[tuple[int, ...], int, int]:
    n = max(1, model.block_count)
    if model.layer_bytes:
        layers = tuple(model.layer_bytes[:n]) + (0,) * (n - len(model.layer_bytes))
        return layers, model.input_bytes or 0, model.output_bytes or 0
    # Without the GGUF tensor list: the file split evenly over the layers plus input and output.
    share = model.size_bytes // (n + 2)
    return (share,) * n, share, model.size_bytes - share * (n + 1)


@dataclass(frozen=True)
class Placement:
    layer_device: tuple[int, ...]  # per layer: GPU index or CPU
    output_device: int
    experts_on_cpu: tuple[bool, ...]
    gpu_layers: int  # as -ngl counts them (output head included)
    reason: str


def place(parts: Parts, gpus_free: list[int], margin: int, gpu_layers: int | None) -> Placement:
    n = len(parts.layer_weights)
    if gpu_layers is not None and gpu_layers < 0:
        gpu_layers = None  # -ngl -1 is llama.cpp's default: --fit decides
    if not gpus_free or gpu_layers == 0:
        return Placement((CPU,) * n, CPU, (False,) * n, 0, "Everything runs in host memory.")
    if gpu_layers is not None:
        placed = _fill(parts, gpus_free, margin, min(gpu_layers, n + 1), (False,) * n, strict=False)
        assert placed is not None
        return _with_reason(placed, f"-ngl {gpu_layers} set: the last {placed.gpu_layers} "
                                    "layer(s) on the GPU(s).")
    everything = _fill(parts, gpus_free, margin, n + 1, (False,) * n)
    if everything is not None:
        return _with_reason(everything, f"--fit: all {n + 1} layers fit on the GPU(s) with "
                                        f"{margin // 2**20} MiB left free on each.")
    if any(parts.expert_weights):
        experts_cpu = [True] * n
        best = _fill(parts, gpus_free, margin, n + 1, tuple(experts_cpu))
        if best is not None:
            for i in reversed(range(n)):  # bring the last layers' experts back while they fit
                experts_cpu[i] = False
                trial = _fill(parts, gpus_free, margin, n + 1, tuple(experts_cpu))
                if trial is None:
                    experts_cpu[i] = True
                    break
                best = trial
            moved = sum(best.experts_on_cpu)
            return _with_reason(best, f"--fit: all layers on the GPU(s), the experts of {moved} "
                                      f"layer(s) in host memory, {margin // 2**20} MiB left free "
                                      "on each GPU.")
    for ngl in range(n, -1, -1):
        placed = _fill(parts, gpus_free, margin, ngl, tuple(bool(e) for e in parts.expert_weights))
        if placed is not None:
            return _with_reason(placed, f"--fit: {ngl} of {n + 1} layers fit on the GPU(s) with "
                                        f"{margin // 2**20} MiB left free on each; the rest run "
                                        "on the CPU.")
    return Placement((CPU,) * n, CPU, (False,) * n, 0, "--fit: no layer fits on the GPU(s).")


def _with_reason(p: Placement, reason: str) -> Placement:
    return Placement(p.layer_device, p.output_device, p.experts_on_cpu, p.gpu_layers, reason)


def _fill(parts: Parts, gpus_free: list[int], margin: int, ngl: int, experts_cpu: tuple[bool, ...],
          strict: bool = True) -> Placement | None:
    """The last `ngl` layers on the GPUs; None if a GPU would keep less than `margin` free.

    First as llama.cpp splits layers by default (in order, in proportion to each GPU's free
    memory, llama-model.cpp load_tensors), then, as --fit's tensor split does when that overflows
    one GPU, the last GPU taking the last layers until it is full.
    """
    n = len(parts.layer_weights)
    ngl = min(ngl, n + 1)
    first = n + 1 - ngl
    shares = _cumulative(gpus_free)
    by_share = [_device(shares, (i - first) / ngl) for i in range(first, n + 1)] if ngl else []
    placement = _assign(parts, first, by_share, experts_cpu, ngl)
    if not strict or _within(parts, placement, gpus_free, margin):  # -ngl: no --fit
        return placement
    greedy: list[int] = []
    used = [0] * len(gpus_free)
    gpu = len(gpus_free) - 1
    for index in range(n, first - 1, -1):
        size = _layer_size(parts, index, experts_cpu)
        while gpu > 0 and used[gpu] + size + parts.compute > gpus_free[gpu] - margin:
            gpu -= 1
        if strict and used[gpu] + size + parts.compute > gpus_free[gpu] - margin:
            return None
        used[gpu] += size
        greedy.insert(0, gpu)
    return _assign(parts, first, greedy, experts_cpu, ngl)


def _cumulative(gpus_free: list[int]) -> list[float]:
    total = sum(max(f, 0) for f in gpus_free) or 1
    out, running = [], 0.0
    for free in gpus_free:
        running += max(free, 0) / total
        out.append(running)
    return out


def _device(shares: list[float], position: float) -> int:
    """llama.cpp's upper_bound over the cumulative split."""
    return next((i for i, share in enumerate(shares) if share > position), len(shares) - 1)


def _assign(parts: Parts, first: int, devices_from_first: list[int], experts_cpu: tuple[bool, ...],
            ngl: int) -> Placement:
    n = len(parts.layer_weights)
    devices = [CPU] * first + devices_from_first
    return Placement(tuple(devices[:n]), devices[n] if ngl else CPU,
                     experts_cpu if ngl else (False,) * n, ngl, "")


def _within(parts: Parts, placement: Placement, gpus_free: list[int], margin: int) -> bool:
    need = [0] * len(gpus_free)
    for index, dev in enumerate([*placement.layer_device, placement.output_device]):
        if dev != CPU:
            need[dev] += _layer_size(parts, index, placement.experts_on_cpu)
    return all(need[g] + parts.compute <= gpus_free[g] - margin
               for g in range(len(gpus_free)) if need[g])


def _layer_size(parts: Parts, index: int, experts_cpu: tuple[bool, ...]) -> int:
    if index == len(parts.layer_weights):
        return parts.output_weights + parts.output_copy
    weights = parts.layer_weights[index] - (parts.expert_weights[index] if experts_cpu[index] else 0)
    return weights + parts.kv[index] + parts.recurrent[index]


Sizes = tuple[int, int, int, int]  # weights, KV, compute, other


def devices(parts: Parts, placement: Placement, n_gpus: int) -> list[tuple[str, Sizes]]:
    """(device name, (weights, kv, compute, other)) for the host and each GPU that holds something."""
    weights = [0] * (n_gpus + 1)  # index n_gpus is the host
    kv = [0] * (n_gpus + 1)
    other = [0] * (n_gpus + 1)
    host = n_gpus
    weights[host] += parts.input_weights
    if placement.output_device == CPU:
        weights[host] += parts.output_weights
    else:
        weights[placement.output_device] += parts.output_weights + parts.output_copy
    other[host] += parts.output
    for i, dev in enumerate(placement.layer_device):
        slot = host if dev == CPU else dev
        expert = parts.expert_weights[i] if placement.experts_on_cpu[i] else 0
        weights[slot] += parts.layer_weights[i] - expert
        weights[host] += expert
        kv[slot] += parts.kv[i]
        other[slot] += parts.recurrent[i]
    used = {host if d == CPU else d for d in placement.layer_device}
    rows = []
    for slot in [host, *range(n_gpus)]:
        if slot != host and slot not in used and placement.output_device != slot:
            continue
        offloaded = any(d != CPU for d in placement.layer_device)
        compute = parts.host_compute if slot == host and offloaded and host not in used \
            else parts.compute
        name = "cpu" if slot == host else f"gpu{slot}"
        rows.append((name, (weights[slot], kv[slot], compute, other[slot])))
    return rows
