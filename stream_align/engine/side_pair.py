"""Both sides' share of a restore at once: side 0 on the calling thread, side 1 on a second one
(and of a steady call's candidate lists, ``CandidateLists.update``).

A restore rebuilds each graph's mirror, samples, vectors, shared-anchor heads, lists and probed
cells, and side A's work reads nothing side B's writes (nor the reverse) — so the two can run at
once. About 40 % of a restore's CPU is numpy over whole arrays (sorts, searches, gathers) and
FAISS, which release the GIL (decision 0088: the mirrors' decode and the embeddings' reads hold
it), so on free cores a second thread can take up to ≈ 30 % off the wall; on a busy machine
the GIL's hand-overs cost more than that (``restore_threads`` defaults to 2 since decision
0089: each thread's progress reports are beats of the process's liveness). The
results do not depend on the threads: each side's work is the same calls on the same inputs in
the same order; what both sides share (the recompute queue, the delta, the pair book, the
running counts) is touched only by the calling thread between the parallel parts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

Both = Callable[[Callable[[int], T]], tuple[T, T]]
"""Run ``work(0)`` and ``work(1)`` and return both results, in side order."""


def serial(work: Callable[[int], T]) -> tuple[T, T]:
    """Side 0, then side 1, on the calling thread (``restore_threads=1``)."""
    return work(0), work(1)


@contextmanager
def side_pair(threads: int, name: str = "restore-side-1") -> Iterator[Both]:
    """A :data:`Both` that runs side 1 on a second thread (named ``name``) while ``threads``
    > 1 (else :func:`serial`); the thread ends with the block. If either side raises, the
    other is waited for (no work left running) and the first side's error is raised."""
    if threads <= 1:
        yield serial
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as pool:

        def both(work: Callable[[int], T]) -> tuple[T, T]:
            second = pool.submit(work, 1)
            try:
                first = work(0)
            except BaseException:
                wait([second])
                raise
            return first, second.result()

        yield both
