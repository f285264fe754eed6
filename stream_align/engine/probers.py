"""For each IVF cell, the entities of one side whose candidate list probes it.

A list searched on an IVF index (``index.IvfVectorIndex``) ranks only the vectors of the cells
its query probes; with the quantiser frozen those cells depend only on the list owner's own
vector. So when an entity of the other graph changes and lands in cell ``c``, the lists it may
enter or leave are exactly those probing ``c`` — this keeps them, so a changed vector is scored
against ``n · nprobe / nlist`` list owners instead of all ``n``.

State is numpy arrays (no per-entity objects): each node's ``nprobe`` cells and its slot in
its cells' members; every cell's members in one array (a region per cell, swap-removal), so a
batch's adds and drops are array operations over all cells at once, never a step per cell
(decision 0068). ``int32`` cells, slots and members (node ids, cells and slots are below
2**31): 12 · nprobe bytes per node (384 at nprobe 32; int64 was 1.35 KB an entity with the
members' doubling slack, docs/BENCHMARKS.md "IVF candidate lists").
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
        self._members = np.zeros(0, dtype=np.int32)  # cell c's at [base[c], base[c] + cap[c])
        self._base = np.zeros(nlist, dtype=np.int64)
        self._cap = np.zeros(nlist, dtype=np.int64)
        self._count = np.zeros(nlist, dtype=np.int64)

    def of(self, cell: int) -> np.ndarray:
        """Nodes probing ``cell``, in slot order."""
        base = int(self._base[cell])
        return self._members[base:base + int(self._count[cell])].astype(np.int64)

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
        """``nodes[i]`` now probes ``cells[i]`` (its old cells are dropped): every (node, cell)
        appended at once — a drain batch re-registers 20,000 nodes × ``nprobe`` cells, and a
        step per cell was most of a small batch's registration (decisions 0054, 0068)."""
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
        starts = np.cumsum(counts) - counts
        slot = self._count[cell] + np.arange(len(cell)) - starts[cell]
        self._reserve(self._count + counts)
        self._members[self._base[cell] + slot] = at[flat // width]
        self._count += counts
        slots = np.full(cells.shape, -1, dtype=np.int32)
        slots.ravel()[flat] = slot
        self._cells[at, :width] = np.where(valid, cells, -1)
        self._slots[at, :width] = slots

    def drop(self, nodes: Sequence[int]) -> None:
        """Forget the cells of ``nodes``: swap-removal from every cell at once — each cell's
        holes below its new count filled by its last members still kept, in order."""
        at = np.asarray(nodes, dtype=np.int64)
        at = at[at < len(self._cells)]
        if not len(at):
            return
        node, j = np.nonzero(self._cells[at] >= 0)
        node = at[node]
        cells = self._cells[node, j].astype(np.int64)
        gone = self._slots[node, j].astype(np.int64)
        self._cells[node, j] = self._slots[node, j] = -1
        removed = np.bincount(cells, minlength=self.nlist)
        left = self._count - removed
        span = int(self._count.max(initial=0)) + 1  # (cell, slot) as one sortable key
        hole = gone < left[cells]
        holes = np.sort(cells[hole] * span + gone[hole])
        tail = np.repeat(np.arange(self.nlist), removed)  # each cell's last `removed` slots
        tail = tail * span + left[tail] + np.arange(len(tail)) \
            - np.repeat(np.cumsum(removed) - removed, removed)
        movers = np.setdiff1d(tail, cells[~hole] * span + gone[~hole], assume_unique=True)
        to_cell, to_slot = np.divmod(holes, span)
        from_cell, from_slot = np.divmod(movers, span)
        moved = self._members[self._base[from_cell] + from_slot]
        self._members[self._base[to_cell] + to_slot] = moved
        self._count = left
        column = np.argmax(self._cells[moved] == to_cell[:, None], axis=1)
        self._slots[moved, column] = to_slot

    def _reserve(self, need: np.ndarray) -> None:
        """Room for ``need`` members in each cell: where a cell lacks it, every cell is moved
        into a new array with a quarter more than it needs (growth amortised as a doubling's,
        ≈ 25 % slack instead of up to 100 % for a doubling per cell)."""
        if not (need > self._cap).any():
            return
        cap = need + need // 4 + 4
        base = np.cumsum(cap) - cap
        members = np.full(int(cap.sum()), -1, dtype=np.int32)
        cell = np.repeat(np.arange(self.nlist), self._count)
        rank = np.arange(len(cell)) - np.repeat(np.cumsum(self._count) - self._count,
                                                self._count)
        members[base[cell] + rank] = self._members[self._base[cell] + rank]
        self._members, self._base, self._cap = members, base, cap

    def nbytes(self) -> int:
        """Memory of the structure (arrays only)."""
        return int(self._cells.nbytes + self._slots.nbytes + self._members.nbytes
                   + self._base.nbytes + self._cap.nbytes + self._count.nbytes)


def _grouped(cells: np.ndarray, nlist: int) -> np.ndarray:
    """The stable order of ``cells`` by value: a radix sort of 16-bit values where the cell
    numbers fit (``nlist`` ≤ 32,768; 4,096 cells at 1M entities a side), not a merge sort of
    64-bit ones — the same order, ≈ 5× less CPU for a restore's registration of every node's
    probed cells (decision 0067)."""
    if nlist <= np.iinfo(np.int16).max + 1:
        return np.argsort(cells.astype(np.int16), kind="stable")
    return np.argsort(cells, kind="stable")
