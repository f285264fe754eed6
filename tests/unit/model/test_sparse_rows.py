"""Compressed fixed blocks: row selection, projection and densifying agree with dense rows."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from stream_align.model.sparse_rows import SparseRows


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
