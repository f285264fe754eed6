"""Compressed fixed blocks: row selection, projection and densifying agree with dense rows."""

from __future__ import annotations

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


def test_unit_rows_in_blocks_keep_the_column_order_sums(monkeypatch) -> None:
    """Rows of very unequal length (one of 3,000 values beside rows of 1–40, all-zero rows),
    summed in length-ordered blocks when the padded block would be large (a tiny block size
    forces many): still sklearn's bytes, which a pairwise sum would miss on rows past 8
    values; values whose squares overflow float32 give its inf and nan, without a warning."""
    import stream_align.model.sparse_rows as sparse_rows

    rng = np.random.default_rng(1)
    lengths = np.concatenate([rng.integers(0, 41, 300), [3000, 0, 129]])
    rows = np.repeat(np.arange(len(lengths)), lengths)
    cols = np.concatenate([rng.choice(1 << 16, n, replace=False) for n in lengths])
    for dtype, scale in ((np.float32, 1.0), (np.float64, 1e-3), (np.float32, 1e20)):
        vals = (rng.lognormal(size=len(rows)) * scale).astype(dtype)
        m = sp.csr_matrix((vals, (rows, cols)), shape=(len(lengths), 1 << 16))
        for cells in (1 << 20, 64, 1):
            monkeypatch.setattr(sparse_rows, "_PAD_CELLS", cells)
            with np.errstate(all="raise"):
                got = unit_rows(m)
            with np.errstate(all="ignore"):
                _same_bits(got, normalize(m))
