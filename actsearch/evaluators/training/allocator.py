"""The C allocator's settings for a process that trains child networks on the CPU.

glibc's ``malloc`` serves a block above its mmap threshold (128 KiB at start) with a fresh
``mmap`` and gives it back with ``munmap`` when it is freed, and trims freed memory at the top of
the heap back to the system. A training step allocates and frees the same few dozen tensors every
step; a stacked network's tensors are M times larger (5 members × 128 × 100 floats = 250 KiB), so,
unless glibc's own dynamic threshold has already risen past them (it rises when a large mmapped
block is freed, so it depends on what the process did before), each one costs a system call and a
page fault per 4 KiB page on every step. :func:`keep_freed_memory` raises the mmap threshold and
the trim threshold so that freed blocks stay in the heap and are reused whatever the history:
per training step of 5 stacked members of the deep MLP, 1.5–1.6× faster where the default had
not adapted, about equal where it had (``benchmarks/bench_batched.py``, ``allocator`` rows:
each setting in fresh processes). It costs at most :data:`KEEP_BYTES` of freed memory held by
the process. Elsewhere than on glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

KEEP_BYTES = 256 << 20  # freed memory a training process may keep for reuse
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # mallopt's parameter numbers (malloc.h)
_done = False


def keep_freed_memory() -> bool:
    """Keep freed blocks below :data:`KEEP_BYTES` in the heap (once per process); True where the
    settings took (glibc)."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, 64 << 20) == 1
    ok = ok and mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES) == 1 and mallopt(_M_TOP_PAD, 16 << 20) == 1
    _done = ok
    return ok
