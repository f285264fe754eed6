"""Passes that reuse the heap: inside the block a freed pass's blocks are taken again with their
pages; outside it the thresholds the service fixed hold; nothing where none was fixed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stream_align import heap

_PASSES = """
import resource, sys
import numpy as np
from stream_align import heap

def faults_of_a_pass():  # a 3 MiB pass after one like it was freed: its page faults
    np.ones(3 << 17)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(3 << 17)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

if sys.argv[1] == "fixed":
    heap.fix_thresholds(1 << 20, 0)  # the bulk load's threshold
with heap.passes_reuse_heap():
    inside = faults_of_a_pass()
    inner = dict(heap._fixed)
after = faults_of_a_pass()
print("reused" if inside < 64 else inside, "faulted" if after >= 768 else after,
      inner.get(heap.M_MMAP_THRESHOLD), inner.get(heap.M_TRIM_THRESHOLD),
      heap._fixed.get(heap.M_MMAP_THRESHOLD), heap._fixed.get(heap.M_TRIM_THRESHOLD))
"""


def _run(mode: str) -> str:
    return subprocess.run([sys.executable, "-c", _PASSES, mode], check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.mark.skipif(heap.MALLOPT is None, reason="glibc only")
def test_a_pass_reuses_the_last_ones_pages_inside_and_the_load_threshold_holds_after() -> None:
    """Under the load's fixed 1 MiB threshold a 3 MiB pass is a fresh mapping (768 pages
    faulted in); inside the block it comes from the heap with its pages; after it the
    thresholds are the load's again (the trim at glibc's 128 KiB). Each in a fresh
    interpreter."""
    assert _run("fixed") == (f"reused faulted {8 << 20} {64 << 20} {1 << 20} {128 << 10}")


@pytest.mark.skipif(heap.MALLOPT is None, reason="glibc only")
def test_without_a_fixed_threshold_the_block_leaves_glibc_alone() -> None:
    """A benchmark under glibc's dynamic thresholds: nothing is set (it could not be undone)."""
    assert _run("dynamic").split()[2:] == ["None"] * 4


def test_thresholds_already_as_high_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The steady state's 32 MiB / 64 MiB: the block sets nothing, lowers nothing."""
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(heap, "MALLOPT", lambda param, size: calls.append((param, size)) or 1)
    monkeypatch.setattr(heap, "_fixed", {})
    heap.fix_thresholds(32 << 20, 64 << 20)
    with heap.passes_reuse_heap():
        pass
    assert calls == [(heap.M_MMAP_THRESHOLD, 32 << 20), (heap.M_TRIM_THRESHOLD, 64 << 20)]


@pytest.mark.parametrize(("fixed", "trims"), [({}, 0), ({heap.M_MMAP_THRESHOLD: 1 << 20}, 1),
                                              ({heap.M_MMAP_THRESHOLD: 32 << 20,
                                                heap.M_TRIM_THRESHOLD: 64 << 20}, 0)])
def test_pass_pages_go_back_only_where_passes_raise_the_thresholds(
        monkeypatch: pytest.MonkeyPatch, fixed: dict[int, int], trims: int) -> None:
    """After a bulk refresh's groups the heap is trimmed under the load's fixed 1 MiB, not
    under glibc's own rule (nothing fixed) nor the steady state's 32 MiB / 64 MiB."""
    calls: list[int] = []
    monkeypatch.setattr(heap, "MALLOC_TRIM", calls.append)
    monkeypatch.setattr(heap, "_fixed", dict(fixed))
    assert heap.give_back_pass_pages() == bool(trims)
    assert calls == [0] * trims
