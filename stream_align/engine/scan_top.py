"""A candidate scan's two reads of its score matrix in one pass: each row's best ``r``, and the
cells that reach their column's list bound.

The scan (``candidate_lists``) scores each changed vector against the whole other graph. From
each chunk of that matrix it needs the row's top ``r`` (the changed entity's own list) and the
cells reaching the column owner's bound (lists the vector enters). Selecting the top ``r`` with
``torch.topk`` reads every cell once more — as much as the bound test, ≈ 0.5 ms an insert at
batches of 10 to 1,000 (docs/BENCHMARKS.md, decision 0062).

Here a row's top ``r`` is selected from the cells that reach a *floor*: any value at or below
the row's ``r``-th largest. The scan knows one for most rows: the ``r``-th largest new score
among the entity's old list members — the ``r``-th largest of a subset of a row is never above
the row's own. So one boolean pass finds both kinds of cell, and each row's candidates (about
``r``) are ordered as :func:`exact_topk.best_first` orders its pick: score descending, then
column ascending.

Exactly ``best_first``'s answer, whatever the data: ``torch.topk`` picks among equal scores in
an order of its own, so a row whose ``r``-th and ``r + 1``-th candidates score the same (a tie
across the cut) is handed to ``best_first``, as are rows without a floor (an entity with no
full list yet) and rows with more than :data:`MOST_CANDIDATES` candidates (a floor far below
the cut: sorting them would cost more than the selection). Each row is selected on its own, so
a row handed over gets what it got before.
"""

from __future__ import annotations

import numpy as np

from stream_align.arrays import nonzero_sparse
from stream_align.engine.exact_topk import best_first

MOST_CANDIDATES = 64
"""Candidates per row above which the row goes to ``best_first`` (``r`` is 20 by default);
such rows' candidates are left out of the sort (on zh_en at batches of 1,000, ≈ 15 % of the
rows held ≈ 60 % of the candidates: docs/BENCHMARKS.md, decision 0098)."""
BLOCK_CELLS = 1 << 19
"""Cells of the score matrix tested at a time (``select``): the block's masks stay in the
cache (512 KB each)."""


def floors(scores: np.ndarray, columns: np.ndarray, r: int) -> np.ndarray:
    """Each row's ``r``-th largest score among its ``columns`` (``-1``: none), ``-inf`` where
    fewer than ``r`` columns are given: a floor for the row's ``r``-th largest."""
    out = np.full(len(scores), -np.inf, dtype=np.float64)
    if not r or not columns.shape[1]:
        return out
    given = columns >= 0
    full = np.count_nonzero(given, axis=1) >= r
    if not full.any():
        return out
    rows = np.flatnonzero(full)
    picked = np.where(given[rows], scores[rows[:, None], np.maximum(columns[rows], 0)],
                      -np.inf)
    out[rows] = -np.sort(-picked, axis=1)[:, r - 1]
    return out


def select(scores: np.ndarray, r: int, floor: np.ndarray, reach: np.ndarray
           ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``best_first(scores, r)`` and ``np.nonzero(scores >= reach[None, :])`` of a score matrix
    ``(n, m)``, given a ``floor`` per row at or below its ``r``-th largest (``-inf``: none);
    ``r <= m``."""
    test = np.where(np.isfinite(floor), floor, np.inf)  # no floor: no candidates, best_first
    rows, cols, reaching = _cells(scores, at_least(test, scores.dtype),
                                  at_least(reach, scores.dtype))
    values = scores[rows, cols]
    cand = values >= test[rows]
    top = _from_candidates(scores, r, floor, rows[cand], cols[cand], values[cand])
    return top, (rows[reaching], cols[reaching])


def _cells(scores: np.ndarray, test: np.ndarray, reach: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells at or above their row's ``test`` or their column's ``reach`` (row-major, as
    ``np.nonzero``) and which of them reach ``reach``: :data:`BLOCK_CELLS` at a time, into two
    masks made once — whole-matrix masks were three fresh ``n × m`` arrays a chunk, each paid
    in page faults and passes over memory (≈ 2× the time at 512 × 19,572, decision 0108)."""
    step = max(1, BLOCK_CELLS // max(scores.shape[1], 1))
    hit = np.empty((min(step, len(scores)), scores.shape[1]), dtype=bool)
    found = np.empty_like(hit)
    parts = []
    for start in range(0, len(scores), step):
        block = scores[start:start + step]
        h, f = hit[:len(block)], found[:len(block)]
        np.greater_equal(block, reach[None, :], out=h)
        np.greater_equal(block, test[start:start + step, None], out=f)
        f |= h
        rows, cols = nonzero_sparse(f)
        parts.append((rows + start, cols, h[rows, cols]))
    if not parts:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0, dtype=bool)
    rows, cols, reaching = (np.concatenate(p) for p in zip(*parts, strict=True))
    return rows, cols, reaching


def at_least(thresholds: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``thresholds`` in ``dtype`` (float32), rounded up where they are not exact: for every
    value ``x`` of that type, ``x >= t`` exactly when ``x >= thresholds`` — compared in the
    matrix's own type, not each cell widened to float64 first (half the time of a test).
    A threshold beyond the type's range casts to an infinity, as intended: ``+inf`` is reached
    by the same values (``+inf`` alone), and a ``-inf`` cast from a finite threshold is rounded
    up to the lowest finite value."""
    with np.errstate(over="ignore"):
        low = np.asarray(thresholds).astype(dtype)
    up = low < thresholds
    low[up] = np.nextafter(low[up], np.array(np.inf, dtype=dtype))
    return low


def _from_candidates(scores: np.ndarray, r: int, floor: np.ndarray, rows: np.ndarray,
                     cols: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(scores)
    index = np.zeros((n, r), dtype=np.int64)
    score = np.zeros((n, r), dtype=scores.dtype)
    if not n or not r:
        return index, score
    count = np.bincount(rows, minlength=n)
    own = np.isfinite(floor) & (count >= r) & (count <= MOST_CANDIDATES)
    if not own.all():  # the other rows go to best_first: their candidates are not sorted
        mine = own[rows]
        rows, cols, values = rows[mine], cols[mine], values[mine]
        count = np.where(own, count, 0)
    order = np.lexsort((cols, -values, rows))  # row, then best first, then lower column
    rows, cols, values = rows[order], cols[order], values[order]
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    rank = np.arange(len(rows)) - start[rows]
    over = np.flatnonzero(count > r)
    own[over] &= values[start[over] + r - 1] != values[start[over] + r]  # no tie at the cut
    keep = own[rows] & (rank < r)
    index[rows[keep], rank[keep]] = cols[keep]
    score[rows[keep], rank[keep]] = values[keep]
    rest = np.flatnonzero(~own)
    if len(rest):
        index[rest], score[rest] = best_first(np.ascontiguousarray(scores[rest]), r)
    return index, score
