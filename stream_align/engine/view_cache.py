"""The pair head's view rows per entity, built once and kept until the entity is affected.

A refresh re-scores every pair of a recomputed entity, and the other entity of most of those
pairs did not change — yet each scoring group built every entity's view again: its own and its
sampled neighbours' name rows stacked and summed, the anchor sets one and two hops away, the
word and number sets of its name (decision 0047's profile: 13 % of a 100-insert batch). A view
row reads the entity's name, its sample, and its sampled neighbours' names and samples
(``scoring.side_view`` sums the neighbours' names in node order, so nothing else). Each of
those changes only for nodes of the affected set ``D = H ∪ R(H)`` of ``affected`` (``F``: a
name; ``M``: a sample; ``R(F)``, ``R(M)``: a neighbour's), so ``stages.find_affected`` drops the
rows of ``D`` and of the deleted nodes, and a row is built again when a pair of its entity is
next scored. A row is the same bytes whether built now or kept (``test_view_cache.py``), so the
scores are too.

No array object per entity: every row's seven CSR rows (:class:`PairView`'s five blocks, its
words and numbers) lie one after the other in a :class:`RowPool` of ``(column, float32 bits)``
pairs, with the seven lengths in a node-indexed table (28 bytes a node of the graph) and a
last-use tick (8 bytes). Bounded: past ``capacity`` entities the least recently used are
dropped down to ``capacity`` (one partition over the held ticks); an evicted row is built again
when needed. Dropping down to three quarters of it, as before, left ≈ 14,000 of zh_en's 19,500
rows a side held on average, and each overflow threw away 4,096 rows the next batches read
back: 48 views built an insert at batches of 10 against 11 affected, 32 when dropped to the
capacity (decision 0070); the partition costs ≈ 0.3 ms a call that overflows. Measured bytes
per row: docs/BENCHMARKS.md (decision 0051).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import scipy.sparse as sp

from stream_align import setops
from stream_align.arrays import grown, lookup
from stream_align.engine.row_pool import RowPool, spans
from stream_align.model.pair_head import PairView

PARTS = 7
"""CSR rows per entity: the view's blocks, then its words and its numbers."""
BUILD_ROWS = 8192
"""Entities a view not kept is built for at a time (a bulk refresh's scoring group: up to
``scoring.GROUP_ENTITIES`` a side). The builder's transients — the names of the entities and
of their sampled neighbours, their sums, the ``(n, k, k)`` two-hop tables — were built for the
whole group at once, the largest allocations live at a bulk refresh's peak (decision 0077);
a row is a function of its entity alone, so parts stacked give the same rows."""


def _parts(view: PairView) -> list[sp.csr_matrix]:
    return [*view.blocks, view.words, view.numbers]


def _in_parts(nodes: np.ndarray, build: Callable[[list[int]], PairView]) -> PairView:
    """``build``'s view of ``nodes``, :data:`BUILD_ROWS` of them at a time, stacked."""
    if len(nodes) <= BUILD_ROWS:
        return build(nodes.tolist())
    built = [_parts(build(nodes[lo:lo + BUILD_ROWS].tolist()))
             for lo in range(0, len(nodes), BUILD_ROWS)]
    stacked = []
    for p in range(PARTS):  # each part's pieces dropped once stacked
        stacked.append(sp.vstack([pieces[p] for pieces in built], format="csr"))
        for pieces in built:
            pieces[p] = None
    return PairView(blocks=stacked[:-2], words=stacked[-2], numbers=stacked[-1])


class ViewCache:
    """``node → its pair-head view row`` of one graph, valid until :meth:`forget`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._pool = RowPool(2)  # (column, data bits) per stored entry
        self._lengths = np.zeros((0, PARTS), dtype=np.int32)
        self._tick = np.zeros(0, dtype=np.int64)  # last use; -1: nothing held
        self._now = 0
        self._dims: list[int] = []  # columns of each part (set by the first build)
        self.held = 0
        self.built = 0  # rows built, a running count (hits are the rest)

    def forget(self, nodes: Iterable[int]) -> None:
        """Drop the rows of ``nodes`` (their name, sample or neighbourhood changed)."""
        at = setops.unique(np.fromiter(nodes, dtype=np.int64))
        at = at[at < len(self._tick)]
        at = at[self._tick[at] >= 0]
        self._drop(at)

    def view(self, nodes: np.ndarray, build: Callable[[list[int]], PairView]) -> PairView:
        """The view of distinct ``nodes``: kept rows read back, the others ``build``-t (a
        list of nodes → their view) and kept. More missing than the capacity (a bulk
        refresh) is built whole and not kept: keeping it would only evict it again, and its
        rows would set the pool's size (the pool does not shrink)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        if len(nodes) > self.capacity and \
                np.count_nonzero(lookup(self._tick, nodes, -1) < 0) > self.capacity:
            self.built += len(nodes)
            return _in_parts(nodes, build)
        if len(nodes):
            self._fit(int(nodes.max()) + 1)
        missing = nodes[self._tick[nodes] < 0]
        if len(missing):
            self._keep(missing, build(missing.tolist()))
        self._now += 1
        self._tick[nodes] = self._now
        out = self._read(nodes)
        if self.held > self.capacity:
            self._evict()
        return out

    def _fit(self, size: int) -> None:
        self._lengths = grown(self._lengths, size, 0)
        self._tick = grown(self._tick, size, -1)

    def _keep(self, nodes: np.ndarray, view: PairView) -> None:
        """Store each row of ``view`` (row ``i``: ``nodes[i]``), its parts one after another."""
        parts = _parts(view)
        if any(m.dtype != np.float32 for m in parts):  # kept as float32 bits
            raise TypeError(f"pair view parts of {[m.dtype for m in parts]}, not float32")
        self._dims = [m.shape[1] for m in parts]
        lengths = np.stack([np.diff(m.indptr) for m in parts], axis=1).astype(np.int64)
        bases = np.cumsum([0] + [m.nnz for m in parts[:-1]])
        starts = (np.stack([m.indptr[:-1] for m in parts], axis=1) + bases).ravel()
        at = spans(starts, lengths.ravel())  # row-major: row by row, part by part
        columns = np.concatenate([m.indices for m in parts]).astype(np.int32)
        data = np.concatenate([m.data for m in parts]).astype(np.float32, copy=False)
        rows = np.stack([columns[at], data.view(np.int32)[at]], axis=1)
        self._pool.set_flat(nodes, rows, lengths.sum(axis=1))
        self._lengths[nodes] = lengths
        self.held += len(nodes)
        self.built += len(nodes)

    def _read(self, nodes: np.ndarray) -> PairView:
        """The view of held ``nodes``: each part's rows cut from the pooled entries."""
        lengths = self._lengths[nodes].astype(np.int64)
        within = np.cumsum(lengths, axis=1) - lengths  # each part's first entry in a block
        parts = []
        for p, dim in enumerate(self._dims):
            rows = self._pool.cut(nodes, within[:, p], lengths[:, p])
            indptr = np.concatenate([[0], np.cumsum(lengths[:, p])])
            data = np.ascontiguousarray(rows[:, 1]).view(np.float32)
            parts.append(sp.csr_matrix((data, np.ascontiguousarray(rows[:, 0]), indptr),
                                       shape=(len(nodes), dim)))
        return PairView(blocks=parts[:-2], words=parts[-2], numbers=parts[-1])

    def _evict(self) -> None:
        """Drop the least recently used rows down to ``capacity``."""
        held = np.flatnonzero(self._tick >= 0)
        extra = len(held) - self.capacity
        if extra > 0:
            self._drop(held[np.argpartition(self._tick[held], extra - 1)[:extra]])

    def _drop(self, nodes: np.ndarray) -> None:
        self._pool.clear(nodes)
        self._tick[nodes] = -1
        self.held -= len(nodes)

    def nbytes(self) -> int:
        """Bytes held: the pool (with garbage and free room) and the node-indexed tables."""
        return self._pool.nbytes() + self._lengths.nbytes + self._tick.nbytes
