"""The IVF quantiser as part of the model: one set of centroids per cell count, trained once on
the training graphs' retrieval vectors (``stream-align train``) and stored in the artifact.

Before decision 0080 the engine trained its quantiser from the stream, on the vectors indexed
in the batch that crossed a threshold, so where a batch boundary fell decided the cells and
with them every list: a restart that re-batched its input ended in another state. Cells that
are a function of the model make an IVF list a function of the vectors alone.

A fixed cell count is not sublinear: a query costs ``nlist`` centroid products plus ``n ·
nprobe / nlist`` vector products, linear in ``n`` once ``n / nlist`` dominates. So the model
carries a *ladder* — every power of two from :data:`SMALLEST` to :data:`LARGEST` cells, as far as
the training vectors allow (:data:`POINTS_PER_CELL`) — and the engine uses the rung nearest
``4 √n`` for the graphs it holds (``auto_cells``), moving up one rung at each 4× growth as
before (decision 0068); which rung a state is on is a function of its indexed count.

From :data:`FINE_FROM` indexed vectors the rung is finer than ``4 √n``: at most
:data:`VECTORS_A_CELL` vectors a cell (decision 0137). A steady call re-searches ≈ 5,000 vectors
a side whatever the graphs' size, and the reverse scan visits every owner probing a touched
cell: with ``4 √n`` cells such a call touches nearly every cell from 40K a side on, so a
re-searched vector's visits grow as ``n``; cells that outnumber a call's changed vectors touch
fewer of them and scan fewer vectors a forward search.
"""

from __future__ import annotations

import numpy as np

from stream_align.index.ivf_index import auto_cells, train_quantiser

SMALLEST = 4
"""The smallest rung (the unit tests' graphs; a service's first rung is ``auto_cells`` of
``engine.ivf_train_min``: 512 at the default 20,000)."""
LARGEST = 8192
"""The largest rung: ``auto_cells`` of 2M entities a side (4M vectors: ``4 √n`` ≈ 8,000), the
top of issue #11's range; :func:`wanted` reaches it from :data:`FINE_FROM`. Beyond it the
cells stay at this count and a query's vector products grow linearly (``n · nprobe / 8,192``);
more cells need a model trained with more rungs."""
FINE_FROM = 1 << 18
"""Indexed vectors (both graphs: 131,072 a side) from which the rung keeps at most
:data:`VECTORS_A_CELL` a cell. Below it ``4 √n`` alone: at 40K a side finer cells cut no CPU
(a call of 5,000 a side touches 91 % of 2,048 cells against 99 % of 1,024) and recall less; the
real sets (DBP15K zh_en's 38,960 vectors, ContEA ZH-EN's 216,806 entities at batch5) stay on the
rungs their accuracy was measured on."""
VECTORS_A_CELL = 50
"""Indexed vectors (both graphs) a cell at most from :data:`FINE_FROM`: ≈ 25 of a side's."""
POINTS_PER_CELL = 2
"""Training vectors a rung's cell gets at least: zh_en's 38,960 vectors allow 8,192 cells
(4.8 a cell); a rung with fewer points than that is not trained."""


def rungs(points: int) -> list[int]:
    """The cell counts a ladder trained on ``points`` vectors holds (ascending)."""
    out, cells = [], SMALLEST
    while cells <= LARGEST and cells * POINTS_PER_CELL <= points:
        out.append(cells)
        cells *= 2
    return out


def train_ladder(vectors: np.ndarray) -> dict[int, np.ndarray]:
    """``{cells: (cells, dim) centroids}`` for every rung ``vectors`` allow: seeded spherical
    k-means (``train_quantiser``; two levels from 2,048 cells), deterministic for the input."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    return {cells: train_quantiser(x, cells) for cells in rungs(len(x))}


def wanted(indexed: int) -> int:
    """The cell count for ``indexed`` vectors (both graphs): ``auto_cells``, and from
    :data:`FINE_FROM` the smallest power of two keeping :data:`VECTORS_A_CELL` a cell or fewer
    where that is more."""
    cells = auto_cells(indexed)
    if indexed < FINE_FROM:
        return cells
    return max(cells, 1 << int(np.ceil(np.log2(indexed / VECTORS_A_CELL))))


def rung(ladder: dict[int, np.ndarray], indexed: int, cells: int) -> int:
    """The rung for ``indexed`` vectors (both graphs): ``cells`` where set, else
    :func:`wanted` — the largest rung not above it (the smallest where none is)."""
    if not ladder:
        raise ValueError("the model carries no IVF quantiser")
    if cells:
        if cells not in ladder:
            raise ValueError(f"ivf_cells {cells} is not one of the model's cell counts "
                             f"{sorted(ladder)}")
        return cells
    want = wanted(indexed)
    fitting = [c for c in ladder if c <= want]
    return max(fitting) if fitting else min(ladder)
