"""The collector around a batch: off inside, survivors frozen after, nothing leaks cycles made
and dropped inside the batch."""

from __future__ import annotations

import gc
import weakref

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
