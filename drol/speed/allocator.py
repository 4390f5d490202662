"""Keep freed memory in the process, so a training step's large buffers do not page-fault.

glibc's ``malloc`` serves a block above its mmap threshold with fresh ``mmap`` pages and
unmaps them on ``free``; the threshold adapts only up to a point, and a heap top above the
trim threshold is handed back to the kernel. A DROL(16) step allocates and frees its
``B*K x hidden`` activations (8 MB at the paper's sizes) several times per step, so each
step page-faulted them in again (~9000 faults per eager step; a copy into a fresh 8 MB
buffer took 1.7 ms on the 2-core Intel Xeon). With both thresholds raised the memory is
reused (no faults once warm; ``tests/test_allocator.py``): compiled DROL K=16 +4% to +13%
over four paired runs, FQL +1% to +5% (``benchmarks/README.md``).

:func:`keep_freed_memory` sets them with ``mallopt`` (glibc only; elsewhere a no-op). Explicit
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables win.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 1 << 30  # keep up to 1 GiB of free heap top
ENV_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_applied = False


def applied() -> bool:
    """Whether :func:`keep_freed_memory` changed the thresholds in this process."""
    return _applied


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; True if they were set."""
    global _applied
    if not sys.platform.startswith("linux") or any(v in os.environ for v in ENV_VARS):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _applied = bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _applied
