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
"""

from __future__ import annotations

import numpy as np

from stream_align.index.ivf_index import auto_cells, train_quantiser

SMALLEST = 4
"""The smallest rung (the unit tests' graphs; a service's first rung is ``auto_cells`` of
``engine.ivf_train_min``: 512 at the default 20,000)."""
LARGEST = 8192
"""The largest rung: ``auto_cells`` of 2M entities a side (4M vectors: ``4 √n`` ≈ 8,000), the
top of issue #11's range. Beyond it the cells stay at this count and a query's vector products
grow linearly (``n · nprobe / 8,192``)."""
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


def rung(ladder: dict[int, np.ndarray], indexed: int, cells: int) -> int:
    """The rung for ``indexed`` vectors (both graphs): ``cells`` where set, else
    ``auto_cells(indexed)`` — the largest rung not above it (the smallest where none is)."""
    if not ladder:
        raise ValueError("the model carries no IVF quantiser")
    if cells:
        if cells not in ladder:
            raise ValueError(f"ivf_cells {cells} is not one of the model's cell counts "
                             f"{sorted(ladder)}")
        return cells
    want = auto_cells(indexed)
    fitting = [c for c in ladder if c <= want]
    return max(fitting) if fitting else min(ladder)
