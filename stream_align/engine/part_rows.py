"""Per-node rows of several sparse parts, pooled and bounded: the store both row caches share.

The pair head's view cache (``view_cache``) and the level-0 feature cache (``feature_cache``)
hold, per node, a few variable-length parts — CSR rows of ``(column, float32 bits)`` or of
``uint64`` keys as two ``int32`` — and drop the least recently used nodes past a bound. Both
keep them the same way, here: a node's parts lie one after another in one :class:`RowPool`
block (no array object per node), with each part's length in a node-indexed ``(n, parts)``
table (4 bytes a part) and a last-use tick (8 bytes; ``-1``: nothing held). Eviction drops the
least recently used down to ``capacity``: dropping further left rows the next batches read back
(decision 0070). What a row means, when it goes stale and how it is built stay with the caller.

The use order is a log of nodes, appended to at each use, a node's tick the place of its
latest entry there (so an entry is live while its node's tick points at it): eviction drops
live entries from the log's front, skipping the stale ones, O(evicted) a call. It replaces a
partition of every held node's tick each call, which numpy's selection made ≈ 1.2 ms an
eviction on their ties (the rows kept after a bulk load share one tick; decision 0111). The log
is compacted to its live entries when full, into an ``int32`` array twice their size (8 bytes a
held node then). A cache whose nodes all fit its capacity (the level-0 feature cache's 2M)
keeps no log until they do not: nothing can be evicted from it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from stream_align.arrays import grown
from stream_align.engine.row_pool import RowPool, spans


def csr_block(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """``m``'s rows as a part: its ``indptr`` and ``(column, float32 bits)`` int32 pairs."""
    bits = m.data.astype(np.float32, copy=False).view(np.int32)
    return m.indptr, np.stack([m.indices.astype(np.int32), bits], axis=1)


class PartRows:
    """``node → parts`` rows of int32 pairs, at most ``capacity`` nodes, LRU out."""

    def __init__(self, parts: int, capacity: int) -> None:
        self.capacity = capacity
        self._pool = RowPool(2)
        self._lengths = np.zeros((0, parts), dtype=np.int32)
        self._tick = np.zeros(0, dtype=np.int64)  # node → its live place in _order, or -1
        self._order = np.zeros(0, dtype=np.int32)  # nodes in order of use, stale ones left in
        self._head = 0  # _order before it: stale or evicted
        self._end = 0  # _order from it: free
        self._space = 0  # nodes fitted: while within the capacity, nothing can be evicted
        self.held = 0

    def fit(self, size: int) -> None:
        """Room for nodes ``0 .. size``."""
        self._lengths = grown(self._lengths, size, 0)
        self._tick = grown(self._tick, size, -1)
        if size > self._space:
            bounded = self._space <= self.capacity < size  # the log starts: every held node
            self._space = size
            if bounded:
                self.touch(np.flatnonzero(self._tick >= 0))

    def missing(self, nodes: np.ndarray) -> np.ndarray:
        """Which of ``nodes`` (each ``< size`` of :meth:`fit`) hold nothing."""
        return self._tick[nodes] < 0

    def holding(self, nodes: np.ndarray) -> np.ndarray:
        """Those of ``nodes`` (any ids) that hold rows."""
        nodes = nodes[nodes < len(self._tick)]
        return nodes[self._tick[nodes] >= 0]

    def touch(self, nodes: np.ndarray) -> None:
        """Mark ``nodes`` (held) used now, in their order."""
        if self._space <= self.capacity:  # none can be evicted: no order to keep
            self._tick[nodes] = 0
            return
        n = len(nodes)
        if self._end + n > len(self._order):
            self._compact(n)
        self._order[self._end:self._end + n] = nodes
        self._tick[nodes] = np.arange(self._end, self._end + n)
        self._end += n

    def _compact(self, room: int) -> None:
        """The use order's live entries moved to the front of a new log with room for
        ``room`` more, its size twice what it then holds (appends stay amortised O(1))."""
        order = self._order[self._head:self._end]
        order = order[self._tick[order] == np.arange(self._head, self._end)]
        self._order = np.zeros(max(2 * (len(order) + room), 1024), dtype=np.int32)
        self._order[:len(order)] = order
        self._tick[order] = np.arange(len(order))
        self._head, self._end = 0, len(order)

    def keep(self, nodes: np.ndarray, blocks: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Hold ``blocks`` (one ``(indptr, rows)`` per part, row ``i`` of each for
        ``nodes[i]``, distinct) as the rows of ``nodes``, replacing what they held."""
        lengths = np.stack([np.diff(indptr) for indptr, _ in blocks], axis=1).astype(np.int64)
        bases = np.cumsum([0] + [len(rows) for _, rows in blocks[:-1]])
        starts = (np.stack([indptr[:-1] for indptr, _ in blocks], axis=1) + bases).ravel()
        at = spans(starts.astype(np.int64), lengths.ravel())  # node by node, part by part
        rows = np.concatenate([rows for _, rows in blocks])[at]
        self.held += int(np.count_nonzero(self._tick[nodes] < 0))
        self._pool.set_flat(nodes, rows, lengths.sum(axis=1))
        self._lengths[nodes] = lengths
        self.touch(nodes)

    def reserve(self, rows: int) -> None:
        """Room for ``rows`` pool rows kept next, in one or several :meth:`keep` calls."""
        self._pool.reserve(rows)

    def cut(self, nodes: np.ndarray, part: int) -> tuple[np.ndarray, np.ndarray]:
        """Part ``part`` of held ``nodes``: their rows concatenated, and each one's count."""
        lengths = self._lengths[nodes].astype(np.int64)
        within = lengths[:, :part].sum(axis=1)
        return self._pool.cut(nodes, within, lengths[:, part]), lengths[:, part]

    def csr(self, nodes: np.ndarray, part: int, dim: int, height: int) -> sp.csr_matrix:
        """Part ``part`` of held ``nodes`` as a ``(height, dim)`` float32 CSR matrix, row
        ``i`` for ``nodes[i]``, empty rows below."""
        return _csr(*self.cut(nodes, part), dim, height)

    def csrs(self, nodes: np.ndarray, dims: list[int], height: int) -> list[sp.csr_matrix]:
        """Every part of held ``nodes`` as :meth:`csr` gives it (``dims[p]``: part ``p``'s
        width), from one read of the pool: its rows taken part by part, node by node (a
        read per part cost a span list, a ``take`` and their numpy calls each; a steady
        insert reads seven parts of hundreds of views, decision 0091)."""
        lengths = self._lengths[nodes].astype(np.int64)
        within = (np.cumsum(lengths, axis=1) - lengths)[:, :len(dims)]
        lengths = lengths[:, :len(dims)]
        rows = self._pool.cut(nodes[None, :].repeat(len(dims), axis=0).ravel(), within.T.ravel(),
                              lengths.T.ravel())
        ends = np.cumsum(lengths.sum(axis=0)).tolist()
        return [_csr(rows[end - int(lengths[:, p].sum()):end], lengths[:, p], dim, height)
                for p, (dim, end) in enumerate(zip(dims, ends, strict=True))]

    def drop(self, nodes: np.ndarray) -> None:
        """Drop the rows of held ``nodes`` (distinct)."""
        self._pool.clear(nodes)
        self._tick[nodes] = -1
        self.held -= len(nodes)

    def evict(self) -> None:
        """Drop the least recently used rows down to ``capacity``."""
        extra = self.held - self.capacity
        while extra > 0:  # every held node has one live entry at or past the head
            end = min(self._end, self._head + max(2 * extra, 1024))
            seen = self._order[self._head:end]
            live = np.flatnonzero(self._tick[seen] == np.arange(self._head, end))[:extra]
            self.drop(seen[live])
            extra -= len(live)
            self._head = self._head + int(live[-1]) + 1 if not extra else end

    def nbytes(self) -> int:
        """Bytes held: the pool (with garbage and free room) and the node-indexed tables."""
        return self._pool.nbytes() + self._lengths.nbytes + self._tick.nbytes + self._order.nbytes


def _csr(rows: np.ndarray, counts: np.ndarray, dim: int, height: int) -> sp.csr_matrix:
    """``(height, dim)`` float32 CSR of ``(column, float32 bits)`` rows, ``counts[i]`` of
    them in row ``i``, empty rows below."""
    indptr = np.zeros(height + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:len(counts) + 1])
    indptr[len(counts) + 1:] = indptr[len(counts)]
    data = np.ascontiguousarray(rows[:, 1]).view(np.float32)
    return sp.csr_matrix((data, np.ascontiguousarray(rows[:, 0]), indptr), shape=(height, dim))
