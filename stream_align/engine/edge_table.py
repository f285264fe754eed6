"""One graph direction's edges: ``node → {relation << 32 | other node}`` in sorted numpy arrays.

The mirror kept a Python set of packed ints per node and direction: a set object (≥ 216 bytes)
and a boxed int (32 bytes) per edge end, ≈ 670 bytes an entity at DBP15K's degrees (the 40K-a-side
breakdown in docs/BENCHMARKS.md). Here an edge end is two ``int64`` in arrays sorted by
``(node, end)`` — 16 bytes — and a node's ends are one binary search away. Recent changes sit in
a dict (``node → {end: present}``) merged into the arrays once it holds a sixteenth of them (at
least 4,096), as in :class:`~stream_align.engine.pair_table.PairTable`, so a change costs a dict
write and an amortised share of a merge.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from stream_align import setops

_MIN_DELTA = 4096
"""Changes kept unmerged at least (small tables do not re-sort on every change)."""


class EdgeTable:
    """A set of ``(node, end)`` pairs of non-negative ``int64``, read per node."""

    def __init__(self) -> None:
        self._node = np.zeros(0, dtype=np.int64)  # sorted by (node, end)
        self._end = np.zeros(0, dtype=np.int64)
        self._delta: dict[int, dict[int, bool]] = {}  # False: removed
        self._changes = 0
        self._held = False  # inside ``held_merges``
        self._starts: np.ndarray | None = None  # node → its first row (built on a read)

    @contextmanager
    def held_merges(self) -> Iterator[None]:
        """No merge inside the block, at most one at its end. A bulk batch adds most of a
        graph's edges: merging at each sixteenth of growth re-sorted every edge ≈ 60 times
        while the DBP15K zh_en backlog was applied (decision 0059); reads see the recent
        changes either way."""
        self._held = True
        try:
            yield
        finally:
            self._held = False
            if self._changes > max(_MIN_DELTA, len(self._node) >> 4):
                self._merge()

    def __len__(self) -> int:
        self._merge()
        return len(self._node)

    def _span(self, node: int) -> tuple[int, int]:
        """``node``'s rows in the sorted arrays: two reads of the row offsets, built once per
        merge (a binary search per read cost ≈ 5 µs, most of it making arrays of the two
        keys: 40 % of a ContEA snapshot's neighbourhood rebuild, decision 0071)."""
        starts = self._starts
        if starts is None:
            last = int(self._node[-1]) if len(self._node) else -1
            starts = np.searchsorted(self._node, np.arange(last + 2, dtype=np.int64))
            self._starts = starts = starts.astype(np.int32 if len(self._node) < 1 << 31
                                                  else np.int64)
        if node + 1 < len(starts):
            return int(starts[node]), int(starts[node + 1])
        return len(self._node), len(self._node)

    def has(self, node: int, end: int) -> bool:
        row = self._delta.get(node)
        if row is not None and end in row:
            return row[end]
        if not len(self._node):
            return False
        lo, hi = self._span(node)
        i = lo + int(np.searchsorted(self._end[lo:hi], end))
        return i < hi and int(self._end[i]) == end

    def add(self, node: int, end: int) -> None:
        self._change(node, end, True)

    def discard(self, node: int, end: int) -> None:
        self._change(node, end, False)

    def _change(self, node: int, end: int, present: bool) -> None:
        row = self._delta.get(node)
        if row is None:
            row = self._delta[node] = {}
        if end not in row:
            self._changes += 1
        row[end] = present
        if not self._held and self._changes > max(_MIN_DELTA, len(self._node) >> 4):
            self._merge()

    def add_new(self, nodes: list[int], ends: list[int]) -> list[bool]:
        """``add`` of each ``(nodes[i], ends[i])`` not present yet, in order; which were
        added (a bulk batch's triples: one loop, not three calls an edge). Only inside
        ``held_merges``, where ``add`` never merges: the recent changes then hold the same
        rows in the same order as ``has`` and ``add`` a pair at a time leave."""
        if not self._held:
            raise RuntimeError("add_new runs inside held_merges")
        delta, merged = self._delta, len(self._node) > 0
        added = []
        for node, end in zip(nodes, ends, strict=True):
            row = delta.get(node)
            if row is None:
                if merged and self.has(node, end):
                    added.append(False)
                    continue
                row = delta[node] = {}
            elif end in row:
                if row[end]:
                    added.append(False)
                    continue
            elif merged and self.has(node, end):
                added.append(False)
                continue
            if end not in row:
                self._changes += 1
            row[end] = True
            added.append(True)
        return added

    def add_all(self, nodes: list[int], ends: list[int]) -> None:
        """``add`` of each ``(nodes[i], ends[i])`` in order, inside ``held_merges`` (the
        mirror of ``add_new``'s added pairs)."""
        if not self._held:
            raise RuntimeError("add_all runs inside held_merges")
        delta = self._delta
        for node, end in zip(nodes, ends, strict=True):
            row = delta.get(node)
            if row is None:
                row = delta[node] = {}
            if end not in row:
                self._changes += 1
            row[end] = True

    def ends(self, node: int) -> list[int]:
        """Every end of ``node``."""
        lo, hi = self._span(node)
        found = self._end[lo:hi].tolist()
        row = self._delta.get(node)
        if not row:
            return found
        return [e for e in found if e not in row] + [e for e, x in row.items() if x]

    def count(self, node: int) -> int:
        """How many ends ``node`` has (no list built where it has no recent change)."""
        if self._delta.get(node):
            return len(self.ends(node))
        lo, hi = self._span(node)
        return hi - lo

    def between(self, node: int, lo: int, hi: int) -> list[int]:
        """The ends of ``node`` in ``[lo, hi)`` — with ``relation << 32`` ends, one relation's
        (a binary search in the node's sorted span, whatever its degree)."""
        first, last = self._span(node)
        i, j = np.searchsorted(self._end[first:last], [lo, hi]) + first
        found = self._end[i:j].tolist()
        row = self._delta.get(node)
        if not row:
            return found
        return ([e for e in found if e not in row]
                + [e for e, x in row.items() if x and lo <= e < hi])

    def count_between(self, node: int, lo: int, hi: int) -> int:
        """How many ends of ``node`` lie in ``[lo, hi)`` (no list built without recent changes)."""
        if self._delta.get(node):
            return len(self.between(node, lo, hi))
        first, last = self._span(node)
        i, j = np.searchsorted(self._end[first:last], [lo, hi])
        return int(j - i)

    def ends_of(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every end of ``nodes`` as two arrays ``(i, end)``: ``end`` is an end of ``nodes[i]``
        (the merged ones found by two vectorised searches, the recent ones per dict row of a
        node that has them; in no particular order). It does not merge: a merge sorts every
        edge of the graph, and merging on each read did that every batch (decision 0051)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        lo = np.searchsorted(self._node, nodes)
        counts = np.searchsorted(self._node, nodes + 1) - lo
        starts = np.cumsum(counts) - counts  # each node's first output slot
        index = np.repeat(np.arange(len(nodes)), counts)
        ends = self._end[np.repeat(lo - starts, counts) + np.arange(len(index))]
        if not self._delta:
            return index, ends
        keep = np.ones(len(index), dtype=bool)
        more_i: list[int] = []
        more_end: list[int] = []
        for i, node in enumerate(nodes.tolist()):
            row = self._delta.get(node)
            if not row:
                continue
            at = slice(int(starts[i]), int(starts[i] + counts[i]))
            keep[at] = ~setops.isin(ends[at], np.fromiter(row, dtype=np.int64, count=len(row)))
            added = [end for end, present in row.items() if present]
            more_i += [i] * len(added)
            more_end += added
        return (np.concatenate([index[keep], np.array(more_i, dtype=np.int64)]),
                np.concatenate([ends[keep], np.array(more_end, dtype=np.int64)]))

    def load(self, nodes: np.ndarray, ends: np.ndarray) -> None:
        """Fill an empty table from arrays of pairs at once (restore; duplicates kept once)."""
        assert not len(self._node) and not self._changes, "load fills an empty table"
        node = np.asarray(nodes, dtype=np.int64)
        end = np.asarray(ends, dtype=np.int64)
        later = (node[1:] > node[:-1]) | ((node[1:] == node[:-1]) & (end[1:] > end[:-1]))
        if not later.all():  # not sorted and distinct already (a restore's out-edges are)
            order = np.lexsort((end, node))  # not ``np.unique(axis=0)``: 4× slower
            node, end = node[order], end[order]
            first = np.concatenate([[True], (node[1:] != node[:-1]) | (end[1:] != end[:-1])])
            node, end = node[first], end[first]
        self._node, self._end = node.copy(), end.copy()
        self._starts = None

    def _merge(self) -> None:
        """Fold the recent changes into the sorted arrays: one sort of both, where a recent
        change of a pair (sorted after its stored row) decides whether the pair stays."""
        if not self._changes:
            return
        nodes, ends, present = [], [], []
        for node, row in self._delta.items():
            nodes.extend([node] * len(row))
            ends.extend(row.keys())
            present.extend(row.values())
        old = len(self._node)
        all_node = np.concatenate([self._node, np.array(nodes, dtype=np.int64)])
        all_end = np.concatenate([self._end, np.array(ends, dtype=np.int64)])
        here = np.concatenate([np.ones(old, dtype=bool), np.array(present, dtype=bool)])
        # stable: a pair's stored row (first in the concatenation) stays before its change
        order = np.lexsort((all_end, all_node))
        node, end = all_node[order], all_end[order]
        last = np.ones(len(node), dtype=bool)  # the last row of each pair decides
        last[:-1] = (node[1:] != node[:-1]) | (end[1:] != end[:-1])
        keep = last & here[order]
        self._node, self._end = node[keep], end[keep]
        self._delta, self._changes = {}, 0
        self._starts = None

    def nbytes(self) -> int:
        """Bytes held: the arrays and the unmerged changes."""
        delta = sys.getsizeof(self._delta) + sum(sys.getsizeof(r) + 60 * len(r)
                                                 for r in self._delta.values())
        starts = 0 if self._starts is None else self._starts.nbytes
        return int(self._node.nbytes + self._end.nbytes + starts + delta)
