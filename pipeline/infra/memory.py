"""Memory between the steps of a run: the cyclic garbage collector and pyarrow's
allocator, which keeps freed blocks for reuse."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

import pyarrow as pa  # type: ignore[import-untyped]


def release_memory() -> None:
    """Give back what a stage left: garbage, and the pages Arrow's allocator keeps for
    reuse (40-50 MB after normalizing 2,000 files), before the next stage (or the
    validation process beside it) needs memory."""
    gc.collect()
    pa.default_memory_pool().release_unused()


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
        if not frozen and gc.get_freeze_count() == 0:
            gc.freeze()
            frozen = True

    try:
        yield collect
    finally:
        if frozen:
            gc.unfreeze()
