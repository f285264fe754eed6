"""Exact top-R in both directions from one pass over the score matrix ``S = Q Bᵀ``.

A search from each side (A→B, then B→A) computes every inner product twice; the scores of both
directions are the same matrix, read by rows for A's lists and by columns for B's. This walks
``S`` in chunks of rows (never all of it in memory), keeps each row's top ``r_rows`` and a
running top ``r_cols`` per column. Used when most vectors changed (bulk loads, restore), where
rebuilding every list costs one product instead of two and no per-list bookkeeping.

Shapes: ``Q (n, D)``, ``B (m, D)``; returns row indices/scores ``(n, r_rows)`` into ``B`` and
column indices/scores ``(m, r_cols)`` into ``Q``, best first (ties: lower index first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK_ROWS = 512
"""Rows of ``S`` computed per matrix product: ``CHUNK_ROWS × m`` floats at a time."""


@dataclass(frozen=True)
class TopR:
    """Best-first neighbour indices and their scores, one row per query."""

    index: np.ndarray  # int64 (n, r)
    score: np.ndarray  # float32 (n, r)


def best_first(scores: np.ndarray, r: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``r`` largest along ``axis``, best first, ties by index."""
    top = np.argpartition(-scores, r - 1, axis=axis)
    top = top[:r] if axis == 0 else top[:, :r]
    values = np.take_along_axis(scores, top, axis=axis)
    order = np.lexsort((top, -values), axis=axis)
    return np.take_along_axis(top, order, axis=axis), np.take_along_axis(values, order, axis=axis)


def top_both_ways(q: np.ndarray, b: np.ndarray, r_rows: int, r_cols: int,
                  chunk: int = CHUNK_ROWS) -> tuple[TopR, TopR]:
    """Each row of ``q``'s top ``r_rows`` in ``b`` and each row of ``b``'s top ``r_cols`` in
    ``q`` by inner product (``r`` is capped by the other side's size)."""
    n, m = len(q), len(b)
    r_rows, r_cols = min(r_rows, m), min(r_cols, n)
    rows_i = np.zeros((n, r_rows), dtype=np.int64)
    rows_s = np.zeros((n, r_rows), dtype=np.float32)
    cols_i = np.zeros((0, m), dtype=np.int64)
    cols_s = np.zeros((0, m), dtype=np.float32)
    for start in range(0, n, chunk):
        s = q[start:start + chunk] @ b.T
        if r_rows:
            rows_i[start:start + len(s)], rows_s[start:start + len(s)] = best_first(s, r_rows, 1)
        if r_cols:
            here = np.broadcast_to(np.arange(start, start + len(s))[:, None], s.shape)
            cand_s, cand_i = np.concatenate([cols_s, s]), np.concatenate([cols_i, here])
            keep = np.argpartition(-cand_s, min(r_cols, len(cand_s)) - 1, axis=0)[:r_cols]
            cols_s = np.take_along_axis(cand_s, keep, axis=0)
            cols_i = np.take_along_axis(cand_i, keep, axis=0)
    if r_cols and n:
        order = np.lexsort((cols_i, -cols_s), axis=0)
        cols_i = np.take_along_axis(cols_i, order, axis=0)
        cols_s = np.take_along_axis(cols_s, order, axis=0)
    return TopR(rows_i, rows_s), TopR(cols_i.T.copy(), cols_s.T.copy())
