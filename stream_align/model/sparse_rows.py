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
    summed in double in column order, each value divided by the root in double. Without
    ``normalize``'s validation, which cost ≈ 1.6 ms a call (decision 0058), and without
    importing scikit-learn, whose ``sklearn.utils`` costs the service ≈ 1.2 s of CPU at start
    (decision 0085)."""
    dtype = m.dtype if m.dtype in (np.float32, np.float64) else np.float64
    out = m.tocsr(copy=True).astype(dtype, copy=False)
    if out.nnz:
        lengths = np.diff(out.indptr)
        with np.errstate(over="ignore", invalid="ignore"):  # as the C loop: inf and nan, silently
            squares = (out.data * out.data).astype(np.float64)
            norms = np.sqrt(_row_sums(squares, out.indptr, lengths))
            norms[norms == 0.0] = 1.0  # an empty (or all-zero) row stays as it is
            out.data = (out.data.astype(np.float64) / np.repeat(norms, lengths)).astype(dtype)
    return out


_PAD_CELLS = 1 << 20
"""Cells of one padded block of rows summed in column order (8 MB of float64)."""


def _row_sums(values: np.ndarray, indptr: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each row's sum of ``values`` (CSR ``indptr``), added one value after another from the
    row's first — the Cython loop's order, so its rounding (a reduction sums pairwise). Rows
    are laid as the columns of a block padded with zeros (adding 0.0 changes no sum) and
    accumulated down them: one block when small, else rows in order of length, a block at a
    time, so a long row pads only rows of its own length."""
    width = int(lengths.max())
    values = np.append(values, 0.0)  # the pad: every place past a row's end reads it
    if width * len(lengths) <= _PAD_CELLS:
        return _block_sums(values, indptr[:-1], lengths, width)
    order = np.argsort(lengths, kind="stable")
    sums = np.zeros(len(lengths), dtype=np.float64)
    lo = 0
    while lo < len(order):
        width = max(1, int(lengths[order[lo]]))
        hi = lo + max(1, _PAD_CELLS // (2 * width))  # at least half of each row is its own
        hi = min(hi, int(np.searchsorted(lengths[order], 2 * width, side="right")),
                 len(order))
        take = order[lo:hi]
        sums[take] = _block_sums(values, indptr[take], lengths[take],
                                 int(lengths[take].max()))
        lo = hi
    return sums


def _block_sums(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                width: int) -> np.ndarray:
    """The sums of the rows at ``starts`` (``lengths`` values each, ``values`` ending with the
    pad's 0.0), as one padded block."""
    if width == 0:
        return np.zeros(len(starts), dtype=np.float64)
    place = np.arange(width)[:, None]
    at = np.where(place < lengths, starts + place, len(values) - 1)
    return np.add.accumulate(values[at], axis=0)[-1]


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
