"""Spherical k-means for the IVF quantiser: flat below :data:`TWO_LEVEL_CELLS` cells, in two
levels from there.

Flat k-means costs ``iterations · points · cells · dim`` with ``points = 64 · cells``: quadratic
in the cells, so the re-training that cells following the graphs need at each 4× growth
(decision 0068) grows with the square of the graphs — ≈ 1.1e13 products for 4,096 cells, the
cells of ≈ 260K entities a side. In two levels (FAISS's ``two_level_clustering``, written out
here for a seed per group and spherical cells): ``√cells`` coarse clusters, then each coarse
cluster's points split into sub-cells in proportion to its share of the points — ≈ ``2 ·
iterations · points · √cells · dim`` — then :data:`REFINE_ITERATIONS` flat iterations from
those centroids (decision 0072).
Deterministic for a given input and seed, as the re-training rule needs: an engine restored
from a store trains on the same sample to the same centroids — and whatever the thread count:
FAISS's k-means gives the same centroids on one thread as on two (checked on the model's whole
ladder, decision 0084), so a small k-means runs on one (:data:`SERIAL_BELOW`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import faiss
import numpy as np

POINTS_PER_CELL = 64
"""k-means sees at most this many vectors per cell (a seeded sample beyond that)."""
TWO_LEVEL_CELLS = 2048
"""Cells from which the quantiser is trained in two levels (zh_en's 1,024 stay flat)."""
REFINE_ITERATIONS = 4
"""Flat k-means iterations over all the points from the two-level centroids: sub-cells trained
within their coarse group alone cut neighbourhoods at the groups' borders, and the lists'
recall against exact search fell with them; a few flat iterations move the borders back, at
a fifth of flat k-means's 20 (measured in decision 0072)."""
_COARSE_POINTS = 256
"""Points per coarse cluster the first level trains on (a sample of the given points)."""
SERIAL_BELOW = 1 << 25
"""Products per iteration (points seen × cells) below which a k-means runs on one thread:
each iteration opens a few OpenMP regions whose threads spin at the barriers, which for a
small k-means costs more CPU than the work (the 8,192-cell rung's 91 group k-means: 8.4 s of
CPU on two threads, 0.65 s on one, decision 0084). Above it the caller's threads share the
products (zh_en's 1,024 cells: 4e7)."""


def kmeans(x: np.ndarray, cells: int, seed: int = 0) -> np.ndarray:
    """``(cells, dim)`` spherical centroids of ``x`` (float32, ``cells <= len(x)``)."""
    if cells < TWO_LEVEL_CELLS:
        return _flat(x, cells, seed)
    start = two_level(x, cells, round(float(np.sqrt(cells))), seed)
    return _flat(x, cells, seed, iterations=REFINE_ITERATIONS, start=start)


def _flat(x: np.ndarray, cells: int, seed: int, points: int = POINTS_PER_CELL,
          iterations: int = 20, start: np.ndarray | None = None) -> np.ndarray:
    # min_points_per_centroid only gates FAISS's "please provide at least …" warning, printed
    # for every group of a two-level training and every large rung of the model's ladder
    model = faiss.Kmeans(x.shape[1], cells, niter=iterations, seed=seed, spherical=True,
                         max_points_per_centroid=points, min_points_per_centroid=1,
                         verbose=False)
    with threads(1 if min(len(x), points * cells) * cells < SERIAL_BELOW else None):
        model.train(np.ascontiguousarray(x, dtype=np.float32), init_centroids=start)
    return np.ascontiguousarray(model.centroids, dtype=np.float32)


@contextmanager
def threads(count: int | None) -> Iterator[None]:
    """FAISS on ``count`` threads inside the block (this thread's OpenMP setting, restored
    after); None: as it is."""
    if count is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def two_level(x: np.ndarray, cells: int, coarse: int, seed: int = 0) -> np.ndarray:
    """``cells`` centroids: ``coarse`` clusters of ``x``, each split into sub-cells in
    proportion to its points (at least one, at most one a point)."""
    top = _flat(x, coarse, seed, _COARSE_POINTS)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(top)
    group = index.search(np.ascontiguousarray(x, dtype=np.float32), 1)[1].ravel()
    sizes = np.bincount(group, minlength=coarse)
    order = np.argsort(group, kind="stable")
    starts = np.cumsum(sizes) - sizes
    parts = [_flat(x[order[starts[g]:starts[g] + sizes[g]]], int(k), seed + 1 + g)
             for g, k in enumerate(shares(sizes, cells).tolist()) if k]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def shares(sizes: np.ndarray, cells: int) -> np.ndarray:
    """Sub-cells of each group: ``cells`` in all (``cells <= sizes.sum()``), in proportion to
    ``sizes`` by largest remainders, at least one per non-empty group and never more than
    its points."""
    sizes = np.asarray(sizes, dtype=np.int64)
    exact = sizes * cells / max(int(sizes.sum()), 1)
    out = np.minimum(np.maximum(np.floor(exact).astype(np.int64), sizes > 0), sizes)
    while (left := cells - int(out.sum())) != 0:
        room = np.where(out < sizes, exact - out, -np.inf) if left > 0 \
            else np.where(out > 1, out - exact, -np.inf)
        pick = np.argsort(-room, kind="stable")[:abs(left)]
        pick = pick[np.isfinite(room[pick])]
        if not len(pick):
            raise ValueError(f"{cells} cells do not fit groups of sizes {sizes.tolist()}")
        out[pick] += 1 if left > 0 else -1
    return out
