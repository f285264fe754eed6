"""Intra-op threads per batch: one for a small batch, the process's setting for bulk work.

A small batch (a few inserts: tens of recomputed embeddings, hundreds of re-scored pairs) runs
thousands of tiny torch ops and small BLAS/FAISS calls. With two OpenMP threads each of them
ends at a barrier; when the other cores are busy — the broker and the producer share this
machine in every end-to-end run — the barrier waits for a descheduled thread's next time slice,
and small batches spend most of their time in such ops (measured in docs/BENCHMARKS.md, decision
0030). Bulk batches (large products) keep the process's thread count, where a second thread pays
for its barriers — except the pair scorer's tensors (:func:`torch_on_one_thread`). Either may
run two of its own parts at once on a second thread of its own (``second_threads``): each
part on one thread, so there is no barrier to wait at, only the other part to wait for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from threading import Lock
from typing import TypeVar

import torch
from threadpoolctl import ThreadpoolController

T = TypeVar("T")
R = TypeVar("R")
_SECOND: ContextVar[bool] = ContextVar("second_thread", default=False)
"""Whether bulk work here may use a second thread of its own (``second_threads``)."""


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
    with torch_on_one_thread(), _controller().limit(limits=1):
        yield


@contextmanager
def blas_on_one_thread() -> Iterator[None]:
    """BLAS on one thread, whatever the batch: for a loop of many small products — the IVF
    scan's per-cell products, a few thousand probing owners against the ≈ 10 changed vectors
    in the cell, 512–2,048 of them a drain call. Two threads meet at a barrier after each; on
    the loaded 2-core VM that cost ≈ 16× the products' own CPU (decision 0075)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield


@contextmanager
def torch_on_one_thread() -> Iterator[None]:
    """Torch on one thread, whatever the batch: for work made of many small element-wise ops
    and short reductions — the pair scorer's messages and cross-graph attention, ``k × k``
    blocks of 8-float messages per pair, with no product a second thread pays for. On the
    loaded 2-core VM the barriers cost that work several times its own CPU and wall (decision
    0061). Every such op splits its rows between threads, never one row's reduction, so the
    results are the same bits (compared on a whole zh_en refresh, the decision's digests)."""
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def second_threads(on: bool) -> Iterator[None]:
    """Work inside may use a second thread of its own while ``on`` and torch's setting is above
    one as the block starts (``OMP_NUM_THREADS=1`` keeps a process on one thread): a batch's
    ``engine.bulk_threads`` or, for a small batch, ``engine.steady_threads`` — its
    ``threads_for`` inside, which puts torch on one thread, does not take it back."""
    token = _SECOND.set(on and torch.get_num_threads() > 1)
    try:
        yield
    finally:
        _SECOND.reset(token)


def second_thread() -> bool:
    """Whether work may use a second thread of its own: inside ``second_threads(True)`` begun
    while torch's setting was above one."""
    return _SECOND.get()


def one_ahead(fn: Callable[[T], R], items: Iterable[T], on: bool) -> Iterator[R]:
    """``fn`` of each item, in order. While ``on``, item ``i + 1``'s runs on a second thread
    while the caller works on item ``i``'s result (for work whose heavy parts — BLAS, torch,
    numpy's and scipy's loops — leave the GIL); at most two results exist at once. Leaving
    early (an error in the caller) waits for the running call."""
    if not on:
        yield from map(fn, items)
        return
    it = iter(items)
    first = next(it, None)
    if first is None:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="one-ahead") as pool:
        pending = pool.submit(fn, first)
        for item in it:
            done = pending.result()
            pending = pool.submit(fn, item)
            yield done
        yield pending.result()


@contextmanager
def beside(on: bool) -> Iterator[Callable[..., Future]]:
    """``submit`` of a one-thread pool while ``on`` — the caller goes on beside the call, whose
    heavy parts should leave the GIL, and reads its ``result()``; leaving the block waits for
    it, also when the caller raises — else a ``submit`` that runs the call at once."""
    if not on:
        yield _now
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="beside") as pool:
        yield pool.submit


def _now(fn: Callable[..., object], *args: object) -> Future:
    """``fn(*args)`` run here, as a done future."""
    done: Future = Future()
    done.set_result(fn(*args))
    return done


class TwoEnds:
    """Items ``0 … n − 1`` of one job worked from both ends: its owner walks them in order and
    works each one the other thread has not taken (:meth:`front`), a helper that is free takes
    them from the back (:meth:`back`, :meth:`help`), so both finish about together. The owner
    reads a taken item's value with :meth:`taken` (it waits for it); each item is worked once.
    A helper's error is the value of the item it failed on (the owner works the items left),
    so the owner never waits for nothing."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._front, self._back = 0, 0
        self._values: list[Future] = []
        self.work: Callable[[int], object] | None = None
        self.ready: Future = Future()
        """Set by the owner once items can be worked (``start``)."""

    def start(self, n: int, work: Callable[[int], object]) -> None:
        """Items ``0 … n − 1`` can now be taken; a helper works item ``i`` as ``work(i)``."""
        with self._lock:
            self._back, self._values, self.work = n, [Future() for _ in range(n)], work
        self.ready.set_result(None)

    def front(self, i: int) -> bool:
        """Whether the owner works item ``i`` itself (the next in order, not taken)."""
        with self._lock:
            if i < self._back:
                self._front = i + 1
                return True
            return False

    def back(self) -> int | None:
        """The last item no one took, now the helper's, or ``None``."""
        with self._lock:
            if self._back > self._front:
                self._back -= 1
                return self._back
            return None

    def taken(self, i: int) -> object:
        """The helper's value of item ``i`` (raises its error)."""
        return self._values[i].result()

    def help(self, owner: Future) -> None:
        """Work items from the back until the two ends meet, once the owner started; nothing
        if the ``owner``'s call (its future) ended, or failed, before it started."""
        wait([self.ready, owner], return_when=FIRST_COMPLETED)
        if not self.ready.done() or self.ready.exception() is not None:
            return
        assert self.work is not None
        while (i := self.back()) is not None:
            try:
                self._values[i].set_result(self.work(i))
            except BaseException as error:
                self._values[i].set_exception(error)
                raise
