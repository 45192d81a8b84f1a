"""Memory between the steps of a run: the cyclic garbage collector and pyarrow's
allocator, which keeps freed blocks for reuse."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable, Iterator

import pyarrow as pa  # type: ignore[import-untyped]

#: glibc's mallopt parameter for the size from which a block gets a mapping of its own.
M_MMAP_THRESHOLD = -3
#: That size, fixed (issue 16, memory): glibc raises it after each large block freed (up to
#: 32 MB), after which the chunks' numpy and pandas buffers come from the heap and stay
#: there, chunk after chunk. 128 KiB is glibc's own starting value.
MMAP_THRESHOLD_BYTES = 128 * 1024


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, if this process runs on it (None elsewhere: nothing is tuned)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "malloc_trim") or not hasattr(libc, "mallopt"):
        return None
    return libc


def fix_mmap_threshold() -> bool:
    """Keep glibc's mmap threshold at MMAP_THRESHOLD_BYTES, so that large blocks go back to
    the system when freed; True if set."""
    libc = _libc()
    return libc is not None and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1


def trim_heap() -> bool:
    """Give the free memory at the top and inside glibc's heap back to the system; True if
    some was given back."""
    libc = _libc()
    return libc is not None and libc.malloc_trim(0) == 1


def release_memory() -> None:
    """Give back what a stage left: garbage, and the pages Arrow's allocator keeps for
    reuse (40-50 MB after normalizing 2,000 files), before the next stage (or the
    validation process beside it) needs memory."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    trim_heap()


def release_arrow_memory() -> None:
    """Give back to the system what pyarrow's allocator keeps of memory freed since (it
    keeps freed blocks for reuse, and streaming the inputs frees many)."""
    pa.default_memory_pool().release_unused()


@contextlib.contextmanager
def between_chunks() -> Iterator[Callable[[], None]]:
    """A function to call between two chunks: it collects the last chunk's garbage (GX
    results and validators hold reference cycles, which only the cyclic collector frees,
    and it would run too seldom to keep the memory from growing chunk after chunk).

    The first call also freezes what survives it (GX's modules and context: a quarter of a
    million objects, which would make every collection take ~0.1 s) until the block ends,
    so the later ones take milliseconds. Left alone if the process froze objects itself.
    """
    frozen = False

    def collect() -> None:
        nonlocal frozen
        gc.collect()
        release_arrow_memory()
        trim_heap()
        if not frozen and gc.get_freeze_count() == 0:
            gc.freeze()
            frozen = True

    try:
        yield collect
    finally:
        if frozen:
            gc.unfreeze()
