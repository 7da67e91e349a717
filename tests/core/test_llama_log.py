"""llama.cpp's memory lines, as llama-server build 11669 printed them (and a CUDA split)."""

from __future__ import annotations

from velollm.core.llama_log import device_of, parse

MIB = 1024**2
GEMMA_CPU = """\
0.00.050.667 I common_params_fit_impl: getting device memory data for initial parameters:
0.01.278.596 I common_params_fit_impl: projected to use 272 MiB of host memory vs. 24105 MiB of total host memory
0.02.317.083 I load_tensors:   CPU_Mapped model buffer size =   170.11 MiB
0.02.317.090 I load_tensors:   CPU_Mapped model buffer size =     3.46 MiB
0.02.317.095 I load_tensors:   CPU_REPACK model buffer size =    12.66 MiB
0.02.318.959 I llama_context:        CPU  output buffer size =     1.00 MiB
0.02.319.080 I llama_kv_cache:        CPU KV buffer size =    12.00 MiB
0.02.625.234 I llama_kv_cache: size =   12.00 MiB (  4096 cells,   3 layers,  1/1 seqs), K (f16):    6.00 MiB
0.02.625.240 I llama_kv_cache:        CPU KV buffer size =    15.00 MiB
0.02.648.041 I sched_reserve:        CPU compute buffer size =    23.28 MiB
"""
HYBRID_CUDA = """\
llama_model_load: projected to use 1500 MiB of device memory vs. 80000 MiB of free device memory
load_tensors:        CUDA0 model buffer size =  1000.00 MiB
load_tensors:   CPU_Mapped model buffer size =   100.00 MiB
llama_context:  CUDA_Host  output buffer size =     0.50 MiB
llama_kv_cache:      CUDA0 KV buffer size =    64.00 MiB
llama_memory_recurrent:      CUDA0 RS buffer size =     1.06 MiB
sched_reserve:      CUDA0 compute buffer size =   300.00 MiB
sched_reserve:  CUDA_Host compute buffer size =    12.00 MiB
"""


def test_cpu_buffers_are_summed_per_kind() -> None:
    buffers = parse(GEMMA_CPU)
    assert buffers.complete and buffers.projected_mib == 272
    assert buffers.get("cpu", "model") == round(170.11 * MIB) + round(3.46 * MIB) + round(12.66 * MIB)
    assert buffers.get("cpu", "KV") == 27 * MIB
    assert buffers.get("cpu", "compute") == round(23.28 * MIB)
    assert buffers.get("cpu", "output") == MIB
    assert list(buffers.by_device) == ["cpu"]


def test_gpu_and_host_buffers_are_told_apart() -> None:
    buffers = parse(HYBRID_CUDA)
    assert buffers.get("gpu0", "model") == 1000 * MIB and buffers.get("cpu", "model") == 100 * MIB
    assert buffers.get("gpu0", "RS") == round(1.06 * MIB)
    assert buffers.get("cpu", "compute") == 12 * MIB
    assert buffers.total("gpu0") == round((1000 + 64 + 1.06 + 300) * MIB)
    assert buffers.projected_mib == 1500


def test_a_second_load_starts_a_new_breakdown() -> None:
    buffers = parse(GEMMA_CPU + GEMMA_CPU.replace("23.28", "40.00"))
    assert buffers.get("cpu", "compute") == 40 * MIB
    assert buffers.get("cpu", "KV") == 27 * MIB


def test_device_names() -> None:
    assert [device_of(n) for n in ("CPU", "CPU_Mapped", "CUDA_Host", "CUDA1", "ROCm0", "Vulkan2",
                                   "MTL0")] == ["cpu", "cpu", "cpu", "gpu1", "gpu0", "gpu2", "gpu0"]
