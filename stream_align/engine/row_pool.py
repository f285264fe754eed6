"""Variable-length blocks of ``int32`` rows per node, in one pool: no array object per node.

A numpy array per node costs its ≈ 112-byte header and a dict slot besides the data — for the
few triples of a node's sample summary (``affected.SampleIndex``) the header is most of it.
Here every block lives in one ``(capacity, width)`` pool addressed by a start and a count per
node; a replaced block is left behind as garbage and the pool is compacted (live blocks copied
in node order) when a write does not fit, so the pool stays at most about twice the live rows.
"""

from __future__ import annotations

import numpy as np

from stream_align.arrays import grown


def spans(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pool rows ``starts[i] .. starts[i] + counts[i]`` of every ``i``, concatenated."""
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(total)


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
        self.set_flat(nodes, np.concatenate(kept) if kept else self._rows[:0], sizes)

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
        return self._rows[rows].astype(np.int64)

    def cut(self, nodes: np.ndarray, offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Rows ``offsets[i] .. offsets[i] + counts[i]`` of the block of each held ``nodes[i]``,
        concatenated, as stored (``int32``: a part of many blocks read without a copy of the
        whole blocks first)."""
        return self._rows[spans(self._start[nodes] + offsets, counts)]

    def _compact(self, more: int) -> None:
        """Copy the live blocks to the front of a pool with room for ``more`` rows (and as
        many again: amortised, each compaction at least doubles the free room)."""
        owners = np.flatnonzero(self._count)
        rows = spans(self._start[owners], self._count[owners].astype(np.int64))
        size = max(2 * (self._live + more), 1024)
        pool = np.zeros((size, self._rows.shape[1]), dtype=np.int32)
        pool[:len(rows)] = self._rows[rows]
        counts = self._count[owners].astype(np.int64)
        self._start[owners] = np.cumsum(counts) - counts
        self._rows, self._used = pool, len(rows)

    def nbytes(self) -> int:
        """Bytes held: the pool (with its garbage and free room) and the per-node arrays."""
        return int(self._rows.nbytes + self._start.nbytes + self._count.nbytes)
