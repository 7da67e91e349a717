"""A measured memory bandwidth of this machine's CPU, for tune's roofline.

Decoding one token reads every weight once, so memory bandwidth / weight bytes bounds the
tokens/s of one stream. GPUs report their bandwidth (detect); for the CPU it is measured here:
the best of a few copies of a buffer far larger than the caches (bytes read + bytes written per
second). One thread copies, so it is a lower bound of what many cores reach together.
"""

from __future__ import annotations

import time

BUFFER_BYTES = 256 * 1024 * 1024


def copy_bandwidth(size: int = BUFFER_BYTES, repeats: int = 3) -> float:
    """Bytes per second moved by a memcpy of `size` bytes (read + write), best of `repeats`."""
    src = bytearray(size)
    dst = bytearray(size)
    view = memoryview(dst)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        view[:] = src  # one memcpy in C
        best = min(best, time.perf_counter() - start)
    return 2 * size / best
