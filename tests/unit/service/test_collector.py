"""The collector around a batch: off inside, survivors frozen after, nothing leaks cycles made
and dropped inside the batch."""

from __future__ import annotations

import gc
import resource
import weakref
from pathlib import Path

import numpy as np
import pytest

from stream_align.service import collector
from stream_align.service.collector import collector_paused


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


def _freed_in_a_batch(trim: bool) -> tuple[int, dict[str, float]]:
    """RSS given back by the end of a batch that freed ≈ 200 MB of 64 KiB arrays (heap blocks,
    under the mmap threshold) lying below a live block, so free() alone cannot return them."""
    blocks = [np.ones(8192) for _ in range(3000)]
    pin = np.ones(8192)
    stages: dict[str, float] = {}
    with collector_paused(stages, trim):
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
