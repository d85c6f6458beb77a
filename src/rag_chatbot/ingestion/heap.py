"""Handing freed memory back to the operating system between the phases of a large ingest.

A very large file leaves hundreds of MB of freed Python objects (its passages, their rows)
in the C allocator's heap after the commit. glibc keeps such memory for reuse by the same
allocator, but the vector engine's optimisation, which comes next, allocates in its own way,
so the process's resident memory would be the freed heap plus the optimisation's working set.
``release_freed_memory`` collects garbage and asks glibc to return its free pages
(``malloc_trim``); elsewhere (no glibc) it only collects.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def release_freed_memory() -> None:
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
