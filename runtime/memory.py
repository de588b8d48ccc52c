"""Memory a run frees goes back to the system, when memory is what limits the batch.

glibc serves large blocks with ``mmap`` and hands them back on ``free``, but raises that
threshold each time such a block is freed (up to 32 MiB): after the first noisy run of a large
model, its draws and activations come from the heap, whose freed memory glibc keeps. A
ResNet-50 compile held ~130 MB more at its peak that way. Fixing the threshold keeps the
first behaviour, at the price of page faults on every large block a run allocates afresh (the
noise draws reuse one buffer, :class:`analogc.runtime.simulate.Simulator`, so a ResNet-50 run
takes about as long either way; the demo's small runs took 15-30% longer), so analogc does it
only where the batch had to shrink to fit the memory budget.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter (malloc.h); setting it also turns its dynamic growth off."""

MMAP_THRESHOLD = 128 << 10
"""glibc's own starting value."""


def return_freed_memory() -> bool:
    """Fix glibc's mmap threshold at its starting value, for this whole process. True if the
    C library took it (not on other systems or C libraries)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    log.debug("mmap threshold fixed at %d bytes: %s", MMAP_THRESHOLD, done)
    return done
