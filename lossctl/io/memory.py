"""The command line's allocator setting for large inputs: freed blocks are kept for the next block.

A block of a large input is read into a fresh array of about 1 MiB, and its temporaries are as large.
glibc serves allocations above its mmap threshold (128 KiB to begin with) by mapping fresh pages and
unmaps them when they are freed, so every block page-faults its memory in again: for a 10⁸-value
``.npy`` pair that is 1.6 GB of page faults, a second of system time, more than the arithmetic.
Raising the thresholds makes freed blocks reusable at once; peak memory is unchanged (the blocks are
the same), and it only matters to this process: the Python API never changes its caller's allocator.
"""

from __future__ import annotations

import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MAPPED_FROM = 32 << 20  # allocations from this size on are still mapped (and unmapped when freed)
KEPT_UP_TO = 256 << 20  # freed memory at the top of the heap returned to the system beyond this


def reuse_freed_blocks() -> bool:
    """Ask glibc to keep freed block-sized memory for reuse; False where that does not apply (not glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MAPPED_FROM)) and bool(mallopt(M_TRIM_THRESHOLD, KEPT_UP_TO))
