"""Intra-op threads per batch: one for a small batch, the process's setting for bulk work.

A small batch (a few inserts: tens of recomputed embeddings, hundreds of re-scored pairs) runs
thousands of tiny torch ops and small BLAS/FAISS calls. With two OpenMP threads each of them
ends at a barrier; when the other cores are busy — the broker and the producer share this
machine in every end-to-end run — the barrier waits for a descheduled thread's next time slice,
and small batches spend most of their time in such ops (measured in docs/BENCHMARKS.md, decision
0030). Bulk batches (large products) keep the process's thread count, where a second thread pays
for its barriers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import torch
from threadpoolctl import ThreadpoolController


@cache
def _controller() -> ThreadpoolController:
    """The BLAS and OpenMP pools loaded (numpy's, scipy's, FAISS's and torch's OpenMP), found
    once: it scans the process's libraries."""
    return ThreadpoolController()


@contextmanager
def threads_for(inputs: int, single_below: int) -> Iterator[None]:
    """One thread for torch, BLAS and FAISS while a batch of ``inputs`` (< ``single_below``)
    runs; the previous settings after it."""
    if inputs >= single_below:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with _controller().limit(limits=1):
            yield
    finally:
        torch.set_num_threads(before)
