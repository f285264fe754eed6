"""Rungs past the model's ladder: each cell of its top rung split into ``k`` sub-cells trained
on the vectors the graphs hold there (decision 0141).

A model's ladder stops where its training vectors do (``ladder.POINTS_PER_CELL``: zh_en's
38,960 vectors allow 8,192 cells). Past that the cells stayed at the top rung and a re-searched
vector's cost grew as ``n``: its forward search scans ``n · nprobe / nlist`` vectors and its
cell is checked against the ``n · nprobe / nlist`` list owners probing it. A split rung keeps
the cells growing with the graphs — ``ladder.wanted`` of the indexed count, as below the top —
from the only vectors there are at that size: the graphs' own, split once per rung move and
stored with the state, so a restore and the batch aligner read the same cells.

The sub-cells are nested: a vector's cell is the best sub-cell of its best top cell, and a
query probes the best ``nprobe`` sub-cells among those of its best top cells
(:data:`CANDIDATES`). So a probe costs the top rung's products plus ``8 · nprobe``, not
those of all the sub-cells (``top · k``): the probe's cost stays near the top rung's while
the cells it picks hold ``1 / k`` of the vectors. Where a top cell holds fewer than ``k``
vectors its spare sub-cells are zero rows, never probed or assigned.
"""

from __future__ import annotations

from collections.abc import Iterable

import faiss
import numpy as np

from stream_align.index.kmeans import kmeans

CANDIDATES = 8
"""Sub-cells a probe weighs for each it picks: its ``n`` come from the best ``⌈8 n / k⌉`` top
cells' ``k`` sub-cells each. The breadth is what recalls: at 200K a side on 8,192 top cells
split 4 ways, 2 a pick recalled 0.687 of the exact top 10 and 8 a pick 0.745, against the
trained 8,192 cells' 0.730 (decision 0141)."""


def split_cells(parents: np.ndarray, k: int, groups: Iterable[tuple[int, np.ndarray]],
                seed: int = 0) -> np.ndarray:
    """``(len(parents) · k, dim)`` sub-cells, top cell ``p``'s at rows ``[p·k, (p+1)·k)``:
    spherical k-means of each group ``(p, vectors of top cell p)`` into ``min(k, len)``
    centroids (seeded by ``p``), the parent's own centroid where a top cell holds none, zero
    rows for the rest. Deterministic for the input."""
    parents = np.ascontiguousarray(parents, dtype=np.float32)
    leaves = np.zeros((len(parents) * k, parents.shape[1]), dtype=np.float32)
    leaves[::k] = parents
    for p, x in groups:
        if len(x):
            m = min(k, len(x))
            leaves[p * k:p * k + m] = kmeans(np.ascontiguousarray(x, dtype=np.float32), m,
                                             seed + p)
    return leaves


class SplitCells:
    """The coarse search over a split rung's sub-cells: best top cells first (one flat
    product a top cell), then their sub-cells."""

    def __init__(self, parents: np.ndarray, leaves: np.ndarray) -> None:
        self.parents = np.ascontiguousarray(parents, dtype=np.float32)
        self.leaves = np.ascontiguousarray(leaves, dtype=np.float32)
        if len(self.leaves) % len(self.parents) or len(self.leaves) <= len(self.parents):
            raise ValueError(f"{len(self.leaves)} sub-cells do not split "
                             f"{len(self.parents)} cells")
        self.k = len(self.leaves) // len(self.parents)
        self._coarse = faiss.IndexFlatIP(self.parents.shape[1])
        self._coarse.add(self.parents)
        self._empty = ~self.leaves.any(axis=1)  # spare sub-cells: never picked

    def search(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, sub-cells)``, each ``(len(queries), n)``, best first: the best ``n``
        sub-cells of the queries' best top cells (:data:`CANDIDATES`; ``-1``: fewer there)."""
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.parents.shape[1])
        tops = self._coarse.search(q, min(-(-CANDIDATES * n // self.k), len(self.parents)))[1]
        cand = (tops[:, :, None] * self.k + np.arange(self.k)).reshape(len(q), -1)
        cand[np.repeat(tops < 0, self.k, axis=1)] = -1
        at = np.maximum(cand, 0)
        scores = np.empty(cand.shape, dtype=np.float32)
        for i in range(len(q)):  # a query's candidates at a time: they stay in the cache
            scores[i] = self.leaves[at[i]] @ q[i]
        scores[(cand < 0) | self._empty[at]] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :n]
        best = np.take_along_axis(scores, order, axis=1)
        picked = np.where(np.isfinite(best), np.take_along_axis(cand, order, axis=1), -1)
        out_s = np.full((len(q), n), -np.inf, dtype=np.float32)
        out_c = np.full((len(q), n), -1, dtype=np.int64)
        out_s[:, :best.shape[1]], out_c[:, :best.shape[1]] = best, picked
        return out_s, out_c
