"""Fixed sparse blocks kept as compressed rows and projected with an embedding bag.

The names, neighbour-names and neighbour-anchor blocks have 20–300 non-zeros in 512–1,024
buckets. Held dense for both DBP15K graphs they were 320 MB of a training run's peak; as
compressed rows (column and value per non-zero) they are about 30 MB, and ``x @ P`` for the
compact retrieval vector (decision 0015) is one ``embedding_bag`` — gradients reach ``P``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch.nn import functional as F


def unit_rows(m: sp.spmatrix) -> sp.spmatrix:
    """``sklearn.preprocessing.normalize(m)`` of a sparse matrix: rows scaled to unit L2 norm,
    a new CSR matrix (float32 and float64 kept, other dtypes as float64), with the same bits as
    its Cython routine (``inplace_csr_row_normalize_l2``): each square in the data's precision,
    summed in double in column order (:func:`_row_sums`), each value divided by the root in
    double. Without ``normalize``'s validation, which cost ≈ 1.6 ms a call (decision 0058),
    and without importing scikit-learn, whose ``sklearn.utils`` costs the service ≈ 1.2 s of
    CPU at start (decision 0085)."""
    dtype = m.dtype if m.dtype in (np.float32, np.float64) else np.float64
    out = m.tocsr(copy=True).astype(dtype, copy=False)
    if out.nnz:
        lengths = np.diff(out.indptr)
        with np.errstate(all="ignore"):  # as the C loop: inf, nan and underflow, silently
            squares = out.data * out.data  # in the data's precision, as the C loop
            norms = np.sqrt(_row_sums(squares, out.indptr, lengths, np.finfo(dtype).nmant + 1))
            norms[norms == 0.0] = 1.0  # an empty (or all-zero) row stays as it is
            # in double, rounded to the data's type: (float)((double)x / norm), as the C loop
            np.divide(out.data, np.repeat(norms, lengths), out=out.data, casting="unsafe")
    return out


def _row_sums(values: np.ndarray, indptr: np.ndarray, lengths: np.ndarray,
              bits: int) -> np.ndarray:
    """Each row's sum of ``values`` (non-negative, each with at most ``bits`` significant
    bits; CSR ``indptr``) as the C loop adds them: one after another in column order, in double
    (each value widened to double as it is added, not as a widened copy of them all).

    Where no partial sum rounds, every order gives that sum. A row's terms are all multiples of
    ``2**q``, ``q`` the exponent of the last bit of its smallest term; while the sum stays
    below ``2**(52 + q)`` every partial sum is a multiple of ``2**q`` under ``2**53`` of them,
    exactly representable. Such a row is summed by ``np.add.reduceat`` (pairwise, in C): on
    squared float32 rows that is every row whose squares spread less than about ``2**28``.
    The other rows (and those with a zero, an inf or a nan) are summed in column order by
    :func:`_ordered_sums`."""
    sums = np.zeros(len(lengths), dtype=np.float64)
    rows = np.flatnonzero(lengths)
    if not len(rows):
        return sums
    starts = indptr[rows]
    sums[rows] = np.add.reduceat(values, starts, dtype=np.float64)
    least = np.minimum.reduceat(values, starts).astype(np.float64)
    quantum = np.frexp(least)[1] - bits  # the exponent of the smallest term's last bit
    exact = (least > 0) & (sums[rows] < np.ldexp(1.0, np.minimum(quantum + 52, 1000)))
    if not exact.all():
        redo = rows[~exact]
        sums[redo] = _ordered_sums(values, indptr[redo], lengths[redo])
    return sums


def _ordered_sums(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The sums of the rows at ``starts`` (``lengths`` values each), added in column order:
    the rows laid as the columns of a block padded with zeros (adding 0.0 changes no sum) and
    accumulated down them."""
    width = int(lengths.max())
    place = np.arange(width)[:, None]
    inside = place < lengths
    block = values[np.where(inside, starts + place, 0)].astype(np.float64)
    block[~inside] = 0.0
    return np.add.accumulate(block, axis=0)[-1]


@dataclass
class SparseRows:
    """Rows of a sparse ``(n, width)`` block: CSR ``indptr``, ``cols``, ``vals``."""

    indptr: torch.Tensor  # int64 (n + 1,)
    cols: torch.Tensor  # int64 (nnz,)
    vals: torch.Tensor  # float32 (nnz,)
    width: int

    @classmethod
    def from_csr(cls, m: sp.spmatrix) -> SparseRows:
        m = sp.csr_matrix(m, dtype=np.float32)
        return cls(torch.from_numpy(m.indptr.astype(np.int64)),
                   torch.from_numpy(m.indices.astype(np.int64)), torch.from_numpy(m.data),
                   m.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.width

    def __getitem__(self, rows: torch.Tensor) -> SparseRows:
        """The rows ``rows`` (any order, repeats allowed) as a new block."""
        starts = self.indptr[rows]
        counts = self.indptr[rows + 1] - starts
        indptr = torch.zeros(len(rows) + 1, dtype=torch.int64)
        torch.cumsum(counts, 0, out=indptr[1:])
        take = (torch.repeat_interleave(starts - indptr[:-1], counts)
                + torch.arange(int(indptr[-1])))
        return SparseRows(indptr, self.cols[take], self.vals[take], self.width)

    def __matmul__(self, proj: torch.Tensor) -> torch.Tensor:
        """``(n, width) @ (width, w)``; an empty row gives a zero row."""
        return F.embedding_bag(self.cols, proj, self.indptr[:-1], mode="sum",
                               per_sample_weights=self.vals)

    def dense(self) -> torch.Tensor:
        """``(n, width)`` float32 (the raw block of an artifact without projections)."""
        n = self.shape[0]
        rows = torch.repeat_interleave(torch.arange(n), self.indptr[1:] - self.indptr[:-1])
        out = torch.zeros(n, self.width)
        out.index_put_((rows, self.cols), self.vals, accumulate=True)
        return out
