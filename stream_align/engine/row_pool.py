"""Variable-length blocks of ``int32`` rows per node, in one pool: no array object per node.

A numpy array per node costs its ≈ 112-byte header and a dict slot besides the data — for the
few triples of a node's sample summary (``affected.SampleIndex``) the header is most of it.
Here every block lives in one ``(capacity, width)`` pool addressed by a start and a count per
node; a replaced block is left behind as garbage and the pool is compacted when a write does not
fit, so the pool stays at most about four times the live rows. Compaction moves the live blocks
to the front *in place*, a bounded slab of rows at a time: copying them into a new pool held the
old and the new pool together, and the pair-head view cache's pool compacting so was the
largest allocation live at a drain call's peak (decision 0065). A new pool is allocated only
when the compacted rows leave less free room than half of them (or four times more than they
need).

Rows are read with ``np.take(…, axis=0)``, not ``pool[rows]``: numpy's fancy indexing copies
a narrow ``(m, 2)`` row at a time, ≈ 8× slower for the same bytes (2.5M rows: 35 ms against
4 ms), and the pair-head views read back ≈ 150 entities an insert from this pool
(decision 0070).
"""

from __future__ import annotations

import numpy as np

from stream_align.arrays import grown

SLAB_ROWS = 1 << 18
"""Live rows moved at a time by a compaction (the copy held beside the pool: 2 MB at 2
columns)."""


def spans(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pool rows ``starts[i] .. starts[i] + counts[i]`` of every ``i``, concatenated: one
    running sum of steps, 1 within a block and the jump to the next block's start at its
    first row (the pair-head views read back millions of rows a refresh: a repeat of each
    block's offset plus a range was two passes more, decision 0113)."""
    filled = counts > 0
    starts, counts = starts[filled], counts[filled]
    if not len(counts):
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    steps = np.ones(int(ends[-1]), dtype=np.int64)
    steps[0] = starts[0]
    steps[ends[:-1]] = starts[1:] - (starts[:-1] + counts[:-1] - 1)
    return np.cumsum(steps, out=steps)


class RowPool:
    """``node → int32 (m, width)`` rows, the blocks of all nodes in one pool."""

    def __init__(self, width: int) -> None:
        self._rows = np.zeros((0, width), dtype=np.int32)
        self._used = 0  # pool rows written (live and garbage)
        self._live = 0
        self._start = np.zeros(0, dtype=np.int64)
        self._count = np.zeros(0, dtype=np.int32)

    def set_many(self, nodes: np.ndarray, blocks: list[np.ndarray]) -> None:
        """Replace the blocks of ``nodes`` (distinct) with ``blocks`` (an empty one clears)."""
        sizes = np.fromiter((len(b) for b in blocks), dtype=np.int64, count=len(blocks))
        kept = [b for b in blocks if len(b)]
        empty = np.zeros((0, self._rows.shape[1]), dtype=np.int32)
        self.set_flat(nodes, np.concatenate(kept) if kept else empty, sizes)

    def set_flat(self, nodes: np.ndarray, rows: np.ndarray, sizes: np.ndarray) -> None:
        """Replace the blocks of ``nodes`` (distinct): ``sizes[i]`` rows each, concatenated in
        ``rows`` (no array per node: a refresh of thousands of nodes writes them at once)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        if not len(nodes):
            return
        self.clear(nodes)
        sizes = np.asarray(sizes, dtype=np.int64)
        total = int(sizes.sum())
        if not total:
            return
        if self._used + total > len(self._rows):
            self._compact(total)
        at = self._used
        self._rows[at:at + total] = rows
        self._start[nodes] = at + np.cumsum(sizes) - sizes
        self._count[nodes] = sizes
        self._used += total
        self._live += total

    def reserve(self, more: int) -> None:
        """Room for ``more`` rows written next, made as one write of them would make it: the
        pool's size then does not depend on how many writes they come in (a pool grown for
        the first of two writes grows again for the second, and does not shrink)."""
        if self._used + more > len(self._rows):
            self._compact(more)

    def clear(self, nodes: np.ndarray) -> None:
        """Drop the blocks of ``nodes``."""
        nodes = np.asarray(nodes, dtype=np.int64)
        if not len(nodes):
            return
        top = int(nodes.max()) + 1
        self._start = grown(self._start, top, 0)
        self._count = grown(self._count, top, 0)
        self._live -= int(self._count[nodes].sum())
        self._count[nodes] = 0

    def gather(self, nodes: np.ndarray) -> np.ndarray:
        """The rows of every node of ``nodes``, concatenated (``int64``)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        nodes = nodes[nodes < len(self._count)]
        rows = spans(self._start[nodes], self._count[nodes].astype(np.int64))
        return np.take(self._rows, rows, axis=0).astype(np.int64)

    def cut(self, nodes: np.ndarray, offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Rows ``offsets[i] .. offsets[i] + counts[i]`` of the block of each held ``nodes[i]``,
        concatenated, as stored (``int32``: a part of many blocks read without a copy of the
        whole blocks first)."""
        return np.take(self._rows, spans(self._start[nodes] + offsets, counts), axis=0)

    def _compact(self, more: int) -> None:
        """Move the live blocks to the front of the pool, then make room for ``more`` rows:
        each compaction leaves free room for ``more`` and half the live rows besides, so a
        written row is copied O(1) times on average."""
        self._squeeze()
        need = self._used + more
        if len(self._rows) < need + need // 2 or len(self._rows) > 4 * max(need, 1024):
            pool = np.zeros((max(2 * need, 1024), self._rows.shape[1]), dtype=np.int32)
            pool[:self._used] = self._rows[:self._used]
            self._rows = pool

    def _squeeze(self) -> None:
        """The live blocks moved, in the order of their starts, to pool rows ``0 .. live``.
        A block moves down or stays (every row before it that is live moves before it), so
        a slab of blocks copied after every earlier slab overwrites only garbage or rows
        already moved."""
        owners = np.flatnonzero(self._count)
        owners = owners[np.argsort(self._start[owners], kind="stable")]
        counts = self._count[owners].astype(np.int64)
        ends = np.cumsum(counts)
        cuts = np.searchsorted(ends, np.arange(SLAB_ROWS, int(ends[-1]) if len(ends) else 0,
                                               SLAB_ROWS), side="right")
        first = 0
        for last in [*cuts.tolist(), len(owners)]:
            if last <= first:
                continue
            part = owners[first:last]
            at = int(ends[first] - counts[first])
            rows = np.take(self._rows, spans(self._start[part], counts[first:last]), axis=0)
            self._rows[at:at + len(rows)] = rows
            self._start[part] = at + np.cumsum(counts[first:last]) - counts[first:last]
            first = last
        self._used = int(ends[-1]) if len(ends) else 0

    def nbytes(self) -> int:
        """Bytes held: the pool (with its garbage and free room) and the per-node arrays."""
        return int(self._rows.nbytes + self._start.nbytes + self._count.nbytes)
