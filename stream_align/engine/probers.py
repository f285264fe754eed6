"""For each IVF cell, the entities of one side whose candidate list probes it.

A list searched on an IVF index (``index.IvfVectorIndex``) ranks only the vectors of the cells
its query probes; with the quantiser frozen those cells depend only on the list owner's own
vector. So when an entity of the other graph changes and lands in cell ``c``, the lists it may
enter or leave are exactly those probing ``c`` — this keeps them, so a changed vector is scored
against ``n · nprobe / nlist`` list owners instead of all ``n``.

State is numpy arrays (no per-entity objects): each node's ``nprobe`` cells and its slot in
each cell's member array; a cell's members are a growable array with swap-removal, so adding or
dropping a node costs ``O(nprobe)``. ``int32`` cells, slots and members (node ids, cells and
slots are below 2**31): 12 · nprobe bytes per node (384 at nprobe 32; int64 was 1.35 KB an
entity with the members' doubling slack, docs/BENCHMARKS.md "IVF candidate lists").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stream_align.arrays import grown


class CellProbers:
    """Which nodes probe which cell (one side)."""

    def __init__(self, nlist: int, nprobe: int) -> None:
        self.nlist, self.nprobe = nlist, nprobe
        self._cells = np.full((0, nprobe), -1, dtype=np.int32)  # node → probed cells
        self._slots = np.full((0, nprobe), -1, dtype=np.int32)  # node → slot in each cell
        self._members = [np.zeros(0, dtype=np.int32) for _ in range(nlist)]
        self._count = np.zeros(nlist, dtype=np.int64)

    def of(self, cell: int) -> np.ndarray:
        """Nodes probing ``cell`` (a view: valid until the next change)."""
        return self._members[cell][: self._count[cell]].astype(np.int64)

    def cells(self, node: int) -> np.ndarray:
        """The cells ``node`` probes (empty if it probes none)."""
        if node >= len(self._cells):
            return np.zeros(0, dtype=np.int64)
        row = self._cells[node]
        return row[row >= 0].astype(np.int64)

    def rows(self, nodes: np.ndarray) -> np.ndarray:
        """``(len(nodes), nprobe)`` cells each node probes (``-1``: none), as FAISS reads
        them: one gather, not a row per node."""
        nodes = np.asarray(nodes, dtype=np.int64)
        out = np.full((len(nodes), self.nprobe), -1, dtype=np.int64)
        inside = nodes < len(self._cells)
        out[inside] = self._cells[nodes[inside]]
        return out

    def set(self, nodes: Sequence[int], cells: np.ndarray) -> None:
        """``nodes[i]`` now probes ``cells[i]`` (its old cells are dropped). One append per
        cell, not per (node, cell): a drain batch re-registers 20,000 nodes × ``nprobe``
        cells, and a Python step each was seconds of every batch (decision 0054)."""
        self.drop(nodes)
        if not len(nodes):
            return
        at = np.asarray(nodes, dtype=np.int64)
        self._cells = grown(self._cells, int(at.max()) + 1, -1)
        self._slots = grown(self._slots, int(at.max()) + 1, -1)
        cells = np.asarray(cells).reshape(len(at), -1)
        valid = cells >= 0
        width = cells.shape[1]
        # the table's valid entries as flat positions, grouped by cell (each cell's nodes in
        # the given order); rows are written back whole, not scattered entry by entry
        flat = np.flatnonzero(valid.ravel())
        cell = cells.ravel()[flat]
        order = _grouped(cell, self.nlist)
        flat, cell = flat[order], cell[order].astype(np.int64)
        counts = np.bincount(cell, minlength=self.nlist)
        firsts = np.flatnonzero(counts)
        counts = counts[firsts]
        starts = np.cumsum(counts) - counts
        slot = self._count[cell] + np.arange(len(cell)) - np.repeat(starts, counts)
        node = at[flat // width].astype(np.int32)
        for c, lo, k in zip(firsts.tolist(), starts.tolist(), counts.tolist(), strict=True):
            n = int(self._count[c])
            if n + k > len(self._members[c]):
                self._members[c] = grown(self._members[c], n + k, -1)
            self._members[c][n:n + k] = node[lo:lo + k]
        self._count[firsts] += counts
        slots = np.full(cells.shape, -1, dtype=np.int32)
        slots.ravel()[flat] = slot
        self._cells[at, :width] = np.where(valid, cells, -1)
        self._slots[at, :width] = slots

    def drop(self, nodes: Sequence[int]) -> None:
        """Forget the cells of ``nodes`` (swap-removal from each cell's members: one step per
        cell, not a Python step per node × cell)."""
        at = np.asarray(nodes, dtype=np.int64)
        at = at[at < len(self._cells)]
        if not len(at):
            return
        node, j = np.nonzero(self._cells[at] >= 0)
        node = at[node]
        cells = self._cells[node, j].astype(np.int64)
        gone = self._slots[node, j].astype(np.int64)
        self._cells[node, j] = self._slots[node, j] = -1
        order = np.argsort(cells, kind="stable")
        cells, gone = cells[order], gone[order]
        firsts, starts, counts = np.unique(cells, return_index=True, return_counts=True)
        for c, lo, k in zip(firsts.tolist(), starts.tolist(), counts.tolist(), strict=True):
            n = int(self._count[c])
            left = n - k  # swap-removal: the last members still kept fill the holes below
            holes = np.sort(gone[lo:lo + k])
            holes = holes[holes < left]
            tail = np.ones(k, dtype=bool)
            tail[gone[lo:lo + k][gone[lo:lo + k] >= left] - left] = False
            movers = left + np.flatnonzero(tail)
            moved = self._members[c][movers]
            self._members[c][holes] = moved
            self._count[c] = left
            if len(moved):
                column = np.argmax(self._cells[moved] == c, axis=1)
                self._slots[moved, column] = holes

    def nbytes(self) -> int:
        """Memory of the structure (arrays only)."""
        return int(self._cells.nbytes + self._slots.nbytes
                   + sum(m.nbytes for m in self._members) + self._count.nbytes)


def _grouped(cells: np.ndarray, nlist: int) -> np.ndarray:
    """The stable order of ``cells`` by value: a radix sort of 16-bit values where the cell
    numbers fit (``nlist`` ≤ 32,768; 4,096 cells at 1M entities a side), not a merge sort of
    64-bit ones — the same order, ≈ 5× less CPU for a restore's registration of every node's
    probed cells (decision 0067)."""
    if nlist <= np.iinfo(np.int16).max + 1:
        return np.argsort(cells.astype(np.int16), kind="stable")
    return np.argsort(cells, kind="stable")
