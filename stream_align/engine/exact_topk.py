"""Exact top-R in both directions from one pass over the score matrix ``S = Q Bᵀ``.

A search from each side (A→B, then B→A) computes every inner product twice; the scores of both
directions are the same matrix, read by rows for A's lists and by columns for B's. This walks
``S`` in chunks of rows (never all of it in memory), keeps each row's top ``r_rows`` and a
running top ``r_cols`` per column. Used when many vectors changed (bulk loads, restore), where
rebuilding every list costs one product instead of two and no per-list bookkeeping.

The products skip what is known to be zero: columns of ``B`` that are nearly empty (the anchor
block: about one non-zero in 1,024 on DBP15K) are multiplied as sparse matrices and added in,
the rest as one dense BLAS product — the same sums, a third fewer multiplications there.

Shapes: ``Q (n, D)``, ``B (m, D)``; returns row indices/scores ``(n, r_rows)`` into ``B`` and
column indices/scores ``(m, r_cols)`` into ``Q``, best first (ties: lower index first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from stream_align.arrays import nonzero_sparse
from stream_align.engine.progress import Progress, chunks, no_progress
from stream_align.engine.threads import one_ahead, second_thread

CHUNK_ROWS = 2048
"""Rows of ``S`` per matrix product (``CHUNK_ROWS × m`` floats at a time): longer chunks make
the column selection cheaper (measured in docs/BENCHMARKS.md)."""
SCAN_BYTES = 256 << 20
"""What one chunk of ``S`` may hold, its transposed copy included: an absolute bound, so a
bulk rebuild's transient does not grow with the graphs (a fixed row count times a
million-column ``S`` would be gigabytes; decision 0034)."""
MIN_CHUNK_ROWS = 16
SPARSE_DENSITY = 0.01
"""Columns of ``B`` with at most this share of non-zeros are multiplied sparsely."""
DENSITY_SAMPLE = 4096
"""Rows of ``B`` sampled to find its nearly empty columns (which ones only decides speed)."""
SPLIT_MIN_ROWS = 256
"""Fewer query rows than this: one plain product (splitting ``B`` costs more than it saves)."""
FIRST_GROUPS = 4
"""Row groups per list place that bound the first chunk's column tops (``_ColumnTop._first``):
more groups give a bound nearer each column's ``r``-th best (fewer cells to sort) for one more
row of group maxima each."""
MIN_RUN = 32
"""Narrowest run of columns multiplied on its own: narrower runs join their neighbours' kind
(ContEA ZH-EN batch2's name blocks have scattered rare n-gram columns: as 37 runs a 2,048-row
chunk took 9.6 s, as one dense run 2.6 s — a narrow product costs more than it skips)."""


@dataclass(frozen=True)
class TopR:
    """Best-first neighbour indices and their scores, one row per query."""

    index: np.ndarray  # int64 (n, r)
    score: np.ndarray  # float32 (n, r)


class InnerProducts:
    """``q @ b.T`` for chunks of ``q``: dense columns by BLAS, nearly empty ones sparsely.

    The dense columns are multiplied as views of ``b`` (one BLAS product per run of adjacent
    dense columns, each at least :data:`MIN_RUN` wide: one run for the model's block layout),
    so building this copies only the sparse columns' non-zeros: it runs once per scan, over the
    whole other graph. ``columns``, where given, is ``b`` transposed and kept
    (``VectorIndex.columns``): an unsplit product of two or more rows reads it, the same bits
    without BLAS packing ``b.T`` again on every product.
    """

    def __init__(self, b: np.ndarray, rows: int, columns: np.ndarray | None = None) -> None:
        self.b, self.split, self.columns = b, False, columns
        if rows < SPLIT_MIN_ROWS:  # small scans: not worth even sampling the density
            return
        sample = b[:: max(1, len(b) // DENSITY_SAMPLE)]
        sparse = _wide(np.count_nonzero(sample, axis=0) <= SPARSE_DENSITY * max(len(sample), 1))
        self.split = bool(sparse.any())
        if not self.split:
            return
        self.dense = _runs(~sparse)
        self.sparse = np.flatnonzero(sparse)
        self.b_sparse_t = sp.csr_matrix(b[:, self.sparse]).T.tocsr()

    def __call__(self, q: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``q @ b.T``, written into ``out`` (``(len(q), len(b))``, the product's type) where
        given: a scan's chunks reuse one matrix, where a fresh one a chunk paid the kernel's
        page faults again each time (≈ a fifth of the product's CPU at 512 × 19,572,
        decision 0108). The same BLAS calls, so the same bits."""
        if not self.split:
            if self.columns is not None and len(q) > 1:  # one row: BLAS's matrix-vector sums
                return np.matmul(q, self.columns, out=out)
            return np.matmul(q, self.b.T, out=out)
        products = (np.matmul(q[:, run], self.b[:, run].T, out=out if i == 0 else None)
                    for i, run in enumerate(self.dense))
        s = next(products, None)
        if s is None:
            s = np.zeros((len(q), len(self.b)), dtype=np.float32) if out is None else out
            s.fill(0)
        for more in products:
            s += more
        extra = (sp.csr_matrix(q[:, self.sparse]) @ self.b_sparse_t).tocoo()
        s[extra.row, extra.col] += extra.data
        return s


def _runs(mask: np.ndarray) -> list[slice]:
    """Slices of the runs of ``True`` in ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _wide(sparse: np.ndarray) -> np.ndarray:
    """``sparse`` with runs narrower than :data:`MIN_RUN` turned to the other kind: short
    sparse runs among dense columns first, then short dense runs left among sparse ones."""
    sparse = sparse.copy()
    for kind in (True, False):
        for run in _runs(sparse == kind):
            if run.stop - run.start < MIN_RUN:
                sparse[run] = not kind
    return sparse


def _top(scores: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of each row's ``r`` largest (torch's selection: several times faster
    than ``np.argpartition`` on rows this long; rows must be contiguous to be fast)."""
    values, top = torch.from_numpy(scores).topk(r, dim=1)
    return top.numpy(), values.numpy()


def _ordered(top: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows best first, equal scores by lower index."""
    order = np.lexsort((top, -values), axis=1)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(values, order, axis=1)


def best_first(scores: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, indices and values of the ``r`` largest, best first, ties by lower index."""
    return _ordered(*_top(scores, r))


def rows_within(columns: int, most: int = CHUNK_ROWS, bytes_per_cell: int = 8) -> int:
    """Rows of a score matrix with ``columns`` columns per chunk within :data:`SCAN_BYTES`
    (``bytes_per_cell``: what the chunk and the arrays made from it hold per score)."""
    return max(MIN_CHUNK_ROWS, min(most, SCAN_BYTES // (bytes_per_cell * max(columns, 1))))


def top_both_ways(q: np.ndarray, b: np.ndarray, r_rows: int, r_cols: int,
                  chunk: int | None = None, progress: Progress = no_progress
                  ) -> tuple[TopR, TopR]:
    """Each row of ``q``'s top ``r_rows`` in ``b`` and each row of ``b``'s top ``r_cols`` in
    ``q`` by inner product (``r`` is capped by the other side's size); ``chunk`` rows of ``q``
    at a time (default: :func:`rows_within` the memory bound)."""
    n, m = len(q), len(b)
    chunk = chunk or rows_within(m)
    r_rows, r_cols = min(r_rows, m), min(r_cols, n)
    product = InnerProducts(b, n)
    rows_i = np.zeros((n, r_rows), dtype=np.int64)
    rows_s = np.zeros((n, r_rows), dtype=np.float32)
    cols = _ColumnTop(m, r_cols)

    def scored(start: int) -> tuple[int, np.ndarray]:
        """A chunk's products and its rows' tops (the next chunk's run beside the column
        tops of this one: ``one_ahead``)."""
        s = product(q[start:start + chunk])
        if r_rows:
            top = bounded_top(s, r_rows, axis=1)
            rows_i[start:start + len(s)], rows_s[start:start + len(s)] = (
                best_first(s, r_rows) if top is None else (top.index, top.score))
        return start, s

    starts = chunks(range(0, n, chunk), progress, "candidate lists")
    for start, s in one_ahead(scored, starts, on=n > chunk and bool(r_cols) and second_thread()):
        if r_cols:
            cols.add(s, start)
    return TopR(rows_i, rows_s), cols.result()


def bounded_top(s: np.ndarray, r: int, axis: int) -> TopR | None:
    """:func:`best_first` of each row (``axis`` 1) or column (``axis`` 0) of ``s``, ``r`` at
    most its length, from a bound instead of a full selection: split each line into
    :data:`FIRST_GROUPS` ``· r`` groups of equal length (the rest joins the last); the ``r``-th
    largest of a line's group maxima is a score with ``r`` cells at least as high (one a
    group), so it bounds the line's ``r``-th best from below, and the cells reaching it (a few
    more than ``r`` a line) are sorted as :func:`_ordered` orders a pick. A line whose
    ``r``-th and ``r + 1``-th admitted cells score the same (a tie across the cut, which
    :func:`_top` splits in an order of its own) goes to :func:`best_first` on its own, as
    before. ``None`` where ``s`` holds a NaN (it reaches its group's maximum)."""
    lines = s if axis == 1 else s.T  # a view
    length = lines.shape[1]
    groups = min(length, FIRST_GROUPS * r)
    size = length // groups
    if axis == 1:
        peaks = s[:, :groups * size].reshape(len(s), groups, size).max(axis=2)
        if length > groups * size:
            np.maximum(peaks[:, -1], s[:, groups * size:].max(axis=1), out=peaks[:, -1])
    else:  # (reduceat over the rows: 10× the time of equal groups)
        peaks = s[:groups * size].reshape(groups, size, s.shape[1]).max(axis=1)
        if length > groups * size:
            np.maximum(peaks[-1], s[groups * size:].max(axis=0), out=peaks[-1])
        peaks = peaks.T
    if np.isnan(peaks).any():
        return None
    bound = np.partition(peaks, groups - r, axis=1)[:, groups - r]
    a, b = nonzero_sparse(s >= (bound[:, None] if axis == 1 else bound[None, :]))
    score = s[a, b]
    owner, other = (a, b) if axis == 1 else (b, a)
    order = np.argsort(owner.astype(np.int64) << 32 | _descending(score + np.float32(0)),
                       kind="stable")  # + 0: −0 and +0 tie, as they compare
    other, score = other[order].astype(np.int64), score[order]
    first = np.searchsorted(owner[order], np.arange(len(lines)))
    take = first[:, None] + np.arange(r)
    index, values = other[take], score[take]
    after = first + r
    more = np.flatnonzero(after < np.append(first[1:], len(score)))
    tied = more[score[after[more]] == values[more, -1]]
    if len(tied):
        index[tied], values[tied] = best_first(np.ascontiguousarray(lines[tied]), r)
    return TopR(index, values)


def _descending(score: np.ndarray) -> np.ndarray:
    """``float32`` scores as ``int64`` keys in ``[0, 2³²)`` that sort ascending as the scores
    sort descending (the IEEE bits with the sign folded, inverted)."""
    bits = score.astype(np.float32).view(np.uint32).astype(np.int64)
    ascending = np.where(bits >> 31 == 1, bits ^ 0xFFFFFFFF, bits | 0x80000000)
    return ascending ^ 0xFFFFFFFF


class _ColumnTop:
    """Each column's running top ``r`` over chunks of rows.

    Until every column holds ``r`` rows, a chunk's best rows per column are selected from its
    transposed copy and merged (what every chunk once cost: a transposed copy and a selection
    over all of it, ≈ 60 % of a ContEA batch1 rebuild). After that only the chunk's scores
    above their column's ``r``-th best can enter (strictly above: an equal score of a later,
    higher row does not displace a kept one, ties by lower index); one comparison over the
    chunk finds them, and their columns' lists are merged by one sort. A column admits about
    ``r · chunk / rows seen`` rows per chunk, so after the first chunks almost none.
    """

    def __init__(self, m: int, r: int) -> None:
        self.r = r
        self.index = np.zeros((m, 0), dtype=np.int64)
        self.score = np.zeros((m, 0), dtype=np.float32)

    def add(self, s: np.ndarray, start: int) -> None:
        """Merge chunk ``s`` (rows ``start…``, one column per list) into the running top."""
        if (not self.index.shape[1] and self.r and s.shape[1] and len(s) >= self.r
                and self._first(s, start)):
            return
        if self.index.shape[1] < self.r:  # filling: the chunk's best of every column
            here_i, here_s = _top(np.ascontiguousarray(s.T), min(self.r, len(s)))
            cand_i = np.concatenate([self.index, here_i + start], axis=1)
            cand_s = np.concatenate([self.score, here_s], axis=1)
            keep, values = _top(cand_s, min(self.r, cand_s.shape[1]))
            self.index, self.score = _ordered(np.take_along_axis(cand_i, keep, axis=1), values)
            return
        # the bound as its own contiguous row: a strided one (every r-th score) makes the
        # comparison four times slower, ≈ 1.2 against 0.3 ns a cell
        bound = np.ascontiguousarray(self.score[:, -1])
        rows, cols = nonzero_sparse(s > bound[None, :])  # few cells: decision 0066
        if not len(rows):
            return
        score = s[rows, cols]
        # the admitted cells by column, then score descending; the stable sort keeps equal
        # scores in row order (``nonzero_sparse`` is row-major): ties by lower row
        order = np.argsort(cols.astype(np.int64) << 32 | _descending(score), kind="stable")
        cols, rows, score = cols[order], rows[order] + start, score[order]
        hit, first = np.unique(cols, return_index=True)
        self._merge(hit, first, rows, score)

    def _first(self, s: np.ndarray, start: int) -> bool:
        """Fill every column from the first chunk by :func:`bounded_top`, without the
        transposed copy and its full selection (≈ 40 % of the column tops on DBP15K zh_en);
        ``False`` (nothing set) where the chunk holds a NaN."""
        top = bounded_top(s, self.r, axis=0)
        if top is None:
            return False
        self.index, self.score = top.index + start, top.score
        return True

    def _merge(self, hit: np.ndarray, first: np.ndarray, rows: np.ndarray,
               score: np.ndarray) -> None:
        """Merge each ``hit`` column's sorted kept list with its admitted cells (sorted, the
        run of column ``hit[i]`` from ``first[i]``): an admitted cell's place is its rank among
        its column's admitted plus the kept scores at least its own (a kept row is lower, so
        it stays ahead on ties); the kept rows fill the other places in order. Linear in the
        hit columns' lists, where one sort of the kept and admitted cells was not."""
        r = self.r
        run = np.repeat(np.arange(len(hit)), np.diff(np.append(first, len(rows))))
        kept_s = self.score[hit]
        place = np.arange(len(rows)) - first[run] + _at_least(kept_s, run, score)
        inside = place < r
        free = np.ones((len(hit), r), dtype=bool)
        free[run[inside], place[inside]] = False
        survive = np.arange(r)[None, :] < free.sum(axis=1)[:, None]
        index, values = np.empty((len(hit), r), dtype=np.int64), np.empty_like(kept_s)
        index[free], values[free] = self.index[hit][survive], kept_s[survive]
        index[run[inside], place[inside]] = rows[inside]
        values[run[inside], place[inside]] = score[inside]
        self.index[hit], self.score[hit] = index, values

    def result(self) -> TopR:
        """Best first, ties by lower index."""
        return TopR(self.index, self.score)


def _at_least(kept: np.ndarray, run: np.ndarray, score: np.ndarray) -> np.ndarray:
    """How many of row ``run[i]`` of ``kept`` (each row best first) are ``>= score[i]``: one
    binary search a cell over the rows' scores as ascending keys, row-major (a row's number
    above its scores' 32 bits), not a comparison with every kept score (≈ 5× the time at
    ``r`` = 30); −0 and +0 are one key, as they compare equal."""
    rows = np.arange(len(kept), dtype=np.int64)[:, None] << 32
    keys = (rows | _descending(kept + np.float32(0))).ravel()
    return (np.searchsorted(keys, run.astype(np.int64) << 32
                            | _descending(score + np.float32(0)), side="right")
            - run.astype(np.int64) * kept.shape[1])
