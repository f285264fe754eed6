"""The collector around a batch: off inside, survivors frozen after, nothing leaks cycles made
and dropped inside the batch."""

from __future__ import annotations

import gc
import resource
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

from stream_align import heap
from stream_align.service import collector
from stream_align.service.collector import collector_paused
from stream_align.service.settings import RunnerSettings


class _Node:
    pass


def test_a_batch_runs_without_the_collector_and_freezes_its_survivors() -> None:
    was = gc.isenabled()
    stages: dict[str, float] = {}
    kept = _Node()
    with collector_paused(stages):
        assert not gc.isenabled()
        cycle = _Node()
        cycle.me = cycle  # type: ignore[attr-defined]
        dropped = weakref.ref(cycle)
        kept.payload = [1, 2, 3]  # type: ignore[attr-defined]
        del cycle
    assert gc.isenabled() == was and stages["gc_s"] >= 0
    assert dropped() is None  # the batch's garbage cycle was collected before the freeze
    assert gc.get_freeze_count() > 0
    gc.unfreeze()


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


def _freed_in_a_batch(trim: bool, trim_above: int = collector.TRIM_ABOVE_BYTES
                      ) -> tuple[int, dict[str, float]]:
    """RSS given back by the end of a batch that freed ≈ 200 MB of 64 KiB arrays (heap blocks,
    under the mmap threshold) lying below a live block, so free() alone cannot return them;
    the resident set grew by them since a trim made first."""
    collector.release_free_heap()
    blocks = [np.ones(8192) for _ in range(3000)]
    pin = np.ones(8192)
    stages: dict[str, float] = {}
    with collector_paused(stages, trim, trim_above):
        del blocks
        before = _rss()
    after = _rss()
    assert pin[0] == 1.0
    return before - after, stages


@pytest.mark.skipif(collector._TRIM is None or not Path("/proc/self/statm").exists(),
                    reason="glibc's malloc_trim and /proc only")
def test_a_batch_gives_the_pages_it_freed_back_to_the_os() -> None:
    kept, stages = _freed_in_a_batch(trim=False)
    assert kept < 50e6 and "trim_s" not in stages
    given, stages = _freed_in_a_batch(trim=True)
    assert given > 100e6 and stages["trim_s"] >= 0


@pytest.mark.skipif(collector._TRIM is None or not Path("/proc/self/statm").exists(),
                    reason="glibc's malloc_trim and /proc only")
def test_a_batch_that_grew_the_resident_set_less_than_the_bound_keeps_its_free_pages() -> None:
    """A steady batch's freed pages stay for the next batch (decision 0107); past the bound
    (a bulk batch's transients) they go back as before."""
    kept, stages = _freed_in_a_batch(trim=True, trim_above=1 << 40)
    assert kept < 50e6 and stages["trim_s"] == 0.0
    given, stages = _freed_in_a_batch(trim=True, trim_above=64 << 20)
    assert given > 100e6 and stages["trim_s"] > 0
    assert collector.resident_bytes() > 0


def test_the_service_default_bound_is_the_collector_default() -> None:
    assert RunnerSettings().trim_heap_above_bytes == collector.TRIM_ABOVE_BYTES


_MALLINFO = """
import ctypes, sys
import numpy as np
from stream_align.service.collector import fix_mmap_threshold, settle_allocator

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]

info = ctypes.CDLL("libc.so.6").mallinfo2
info.restype = MallInfo2
"""


def _fresh(script: str, *args: int) -> str:
    """What ``script`` (after the mallinfo2 preamble) prints in a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", _MALLINFO + script, *map(str, args)],
                          check=True, capture_output=True, text=True).stdout.strip()


_MMAPPED_AGAIN = """
fixed = fix_mmap_threshold(int(sys.argv[1])) if int(sys.argv[1]) else False
first = np.ones(3 << 18)  # 6 MiB: over glibc's first threshold, so mmapped either way
del first  # freeing it raises glibc's dynamic threshold to 6 MiB, unless the threshold is fixed
before = info().hblks
second = np.ones(3 << 18)
print(fixed, info().hblks - before)
"""


@pytest.mark.skipif(heap.MALLOPT is None, reason="glibc only")
def test_a_fixed_mmap_threshold_keeps_mapping_large_arrays_after_a_large_free() -> None:
    """With glibc's dynamic threshold, a 6 MiB array freed makes the next one come from a heap
    (where its pages stay after it is freed); with the threshold fixed at 1 MiB it is mmapped
    again (its pages leave when it is freed). Each in a fresh interpreter."""
    assert _fresh(_MMAPPED_AGAIN, 0) == "False 0"
    assert _fresh(_MMAPPED_AGAIN, 1 << 20) == "True 1"
    assert not collector.fix_mmap_threshold(0)


_SETTLED = """
fix_mmap_threshold(1 << 20)  # the bulk load's threshold
taken = settle_allocator(int(sys.argv[1]), int(sys.argv[2])) if int(sys.argv[1]) else None
before = info().hblks
block = np.ones(3 << 18)  # 6 MiB
mapped = info().hblks - before
del block
print(taken, mapped, info().keepcost >= 6 << 20)
"""


@pytest.mark.skipif(heap.MALLOPT is None, reason="glibc only")
def test_settled_thresholds_keep_a_6_mib_array_in_the_heap_and_its_pages_after_free() -> None:
    """Under the bulk load's 1 MiB threshold a 6 MiB array is mmapped (its pages go when freed
    and are faulted in again next time); under the steady 32 MiB it comes from the heap, and
    with a 64 MiB trim threshold the freed top stays (glibc's 128 KiB would trim it). Each in
    a fresh interpreter."""
    assert _fresh(_SETTLED, 0, 0) == "None 1 False"
    assert _fresh(_SETTLED, 32 << 20, 64 << 20) == "True 0 True"
    assert _fresh(_SETTLED, 32 << 20, 0) == "True 0 False"
