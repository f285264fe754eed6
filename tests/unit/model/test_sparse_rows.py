"""Compressed fixed blocks: row selection, projection and densifying agree with dense rows."""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.preprocessing import normalize

from stream_align.model.sparse_rows import SparseRows, unit_rows


def test_rows_projection_and_gradient_match_the_dense_block() -> None:
    dense = sp.random(50, 64, density=0.1, format="lil", dtype=np.float32, random_state=0)
    dense[3] = 0  # an entity without a name: a zero row, an empty bag
    block = SparseRows.from_csr(dense.tocsr())
    full = torch.from_numpy(dense.toarray())
    rows = torch.tensor([3, 0, 0, 49, 7])  # any order, repeats
    proj = torch.randn(64, 8, requires_grad=True)
    assert torch.equal(block[rows].dense(), full[rows])
    out = block[rows] @ proj
    assert torch.allclose(out, full[rows] @ proj, atol=1e-5) and not out[0].any()
    out.sum().backward()
    assert torch.allclose(proj.grad, full[rows].sum(0, keepdim=True).T.expand(64, 8), atol=1e-5)


def _same_bits(got: sp.spmatrix, want: sp.spmatrix) -> None:
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
    for a, b in ((got.indptr, want.indptr), (got.indices, want.indices),
                 (got.data.view(np.uint8), want.data.view(np.uint8))):
        np.testing.assert_array_equal(a, b)


def test_unit_rows_are_normalize_bit_for_bit() -> None:
    """Float32 and float64 rows, empty rows, duplicate and unsorted entries, explicit zeros,
    integer counts, CSC input and sparse arrays: the same matrix, bytes and type as sklearn's
    ``normalize``; the input is left as it was."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64, np.int64):
        rows, cols = rng.integers(0, 30, 400), rng.integers(0, 1 << 20, 400)
        rows[:5], cols[:5] = 3, 77  # a duplicated entry
        vals = rng.normal(size=400).astype(dtype) if dtype != np.int64 else \
            rng.integers(1, 5, 400)
        vals[10] = 0  # an explicit zero
        m = sp.csr_matrix((vals, (rows, cols)), shape=(40, 1 << 20))
        m.indices[m.indptr[3]:m.indptr[4]] = m.indices[m.indptr[3]:m.indptr[4]][::-1].copy()
        before = m.copy()
        for x in (m, m.tocsc(), sp.csr_array(m)):
            _same_bits(unit_rows(x), normalize(x))
        _same_bits(m, before)


def test_unit_rows_sum_in_column_order_where_order_matters() -> None:
    """Rows of very unequal length (one of 3,000 values beside rows of 1–40) and of squares
    spread far enough that a pairwise sum rounds otherwise (values from 1e-12 to 1e12, where
    only the column-order sum is sklearn's), all-zero rows, explicit zeros, and values whose
    squares overflow float32 (its inf and nan, without a warning): sklearn's bytes."""
    rng = np.random.default_rng(1)
    lengths = np.concatenate([rng.integers(0, 41, 300), [3000, 0, 129]])
    rows = np.repeat(np.arange(len(lengths)), lengths)
    cols = np.concatenate([rng.choice(1 << 16, n, replace=False) for n in lengths])
    for dtype, spread in ((np.float32, 0.0), (np.float32, 12.0), (np.float64, 12.0),
                          (np.float32, 25.0)):
        vals = (10.0 ** rng.uniform(-spread, spread, len(rows))).astype(dtype)
        vals[::97] = 0
        m = sp.csr_matrix((vals, (rows, cols)), shape=(len(lengths), 1 << 16))
        m.data[m.indptr[5]:m.indptr[6]] = 0  # a row of explicit zeros
        with np.errstate(all="raise"):
            got = unit_rows(m)
        with np.errstate(all="ignore"):
            _same_bits(got, normalize(m))


def test_row_sums_add_in_column_order() -> None:
    """The sums themselves, against Python's own double loop (the C loop's order), on rows
    where the order changes the last bits."""
    from stream_align.model.sparse_rows import _row_sums

    rng = np.random.default_rng(2)
    lengths = rng.integers(0, 200, 500)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    values = (10.0 ** rng.uniform(-9, 9, indptr[-1])).astype(np.float32).astype(np.float64)
    want = []
    for lo, hi in itertools.pairwise(indptr.tolist()):
        total = 0.0
        for v in values[lo:hi].tolist():
            total += v
        want.append(total)
    got = _row_sums(values, indptr, lengths, 24)
    np.testing.assert_array_equal(got.view(np.uint64), np.array(want).view(np.uint64))
