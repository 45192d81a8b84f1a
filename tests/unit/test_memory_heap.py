"""glibc heap tuning of pipeline.infra.memory (issue 16, memory of the validation process)."""

from __future__ import annotations

import sys

import pytest

from pipeline.infra import memory

glibc_only = pytest.mark.skipif(memory._libc() is None, reason="not glibc")


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@glibc_only
def test_mmap_threshold_is_fixed() -> None:
    assert memory.MMAP_THRESHOLD_BYTES == 131072
    assert memory.fix_mmap_threshold() is True


@glibc_only
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_trim_heap_gives_freed_heap_back() -> None:
    blocks = [bytearray(4096) for _ in range(20_000)]  # ~80 MB from malloc's heap
    blocks.append(bytearray(5000))  # malloc's heap top in use: only a trim frees the rest
    before = _rss_kb()
    del blocks[:-1]
    assert memory.trim_heap() is True
    assert before - _rss_kb() > 60_000  # kB given back
