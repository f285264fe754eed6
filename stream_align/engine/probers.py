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
        """``nodes[i]`` now probes ``cells[i]`` (its old cells are dropped)."""
        self.drop(nodes)
        if not len(nodes):
            return
        top = int(max(nodes)) + 1
        self._cells = grown(self._cells, top, -1)
        self._slots = grown(self._slots, top, -1)
        for node, row in zip(nodes, np.asarray(cells, dtype=np.int64).tolist(), strict=True):
            for j, cell in enumerate(row):
                if cell < 0:
                    continue
                n = self._count[cell]
                if n == len(self._members[cell]):
                    self._members[cell] = grown(self._members[cell], n + 1, -1)
                self._members[cell][n] = node
                self._count[cell] = n + 1
                self._cells[node, j], self._slots[node, j] = cell, n

    def drop(self, nodes: Sequence[int]) -> None:
        """Forget the cells of ``nodes`` (swap-remove from each cell's members)."""
        for node in nodes:
            if node >= len(self._cells):
                continue
            for j in range(self.nprobe):
                cell = int(self._cells[node, j])
                if cell < 0:
                    continue
                slot, last = int(self._slots[node, j]), int(self._count[cell]) - 1
                moved = int(self._members[cell][last])
                self._members[cell][slot] = moved
                self._count[cell] = last
                if moved != node:
                    k = int(np.flatnonzero(self._cells[moved] == cell)[0])
                    self._slots[moved, k] = slot
                self._cells[node, j] = self._slots[node, j] = -1

    def nbytes(self) -> int:
        """Memory of the structure (arrays only)."""
        return int(self._cells.nbytes + self._slots.nbytes
                   + sum(m.nbytes for m in self._members) + self._count.nbytes)
