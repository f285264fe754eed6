"""Names' counts packed one int32 a non-zero, two to a pool row, read back as they were."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from stream_align.engine import count_rows


def _counts(rng: np.random.Generator, rows: int, dim: int, top: int) -> sp.csr_matrix:
    """Raw counts as ``char_wb_counts`` gives them: float32, columns ascending, none zero;
    some rows empty, some with one or an odd number of non-zeros."""
    dense = rng.integers(1, top + 1, size=(rows, dim)) * (rng.random((rows, dim)) < 0.3)
    dense[::4] = 0
    dense[1::7, 1:] = 0
    return sp.csr_matrix(dense.astype(np.float32))


def _same(got: sp.csr_matrix, want: sp.csr_matrix) -> None:
    assert got.shape == want.shape
    assert np.array_equal(got.indptr, want.indptr), "row lengths differ"
    assert np.array_equal(got.indices, want.indices), "columns differ"
    assert np.array_equal(got.data, want.data), "counts differ"
    assert got.data.dtype == np.float32


@pytest.mark.parametrize("dim, top", [(512, 9), (2, 3), (1 << 20, 1)])
def test_unpack_gives_back_what_pack_was_given(dim: int, top: int) -> None:
    rng = np.random.default_rng(dim)
    counts = _counts(rng, 40, min(dim, 64), top)
    counts = sp.csr_matrix((counts.data, counts.indices, counts.indptr), shape=(40, dim))
    indptr, rows = count_rows.pack(counts)
    assert rows.dtype == np.int32 and rows.shape == (int(indptr[-1]), 2)
    assert np.array_equal(np.diff(indptr), (np.diff(counts.indptr) + 1) // 2), \
        "not two non-zeros a pool row"
    _same(count_rows.unpack(rows, np.diff(indptr), dim, 43),
          sp.vstack([counts, sp.csr_matrix((3, dim), dtype=np.float32)], format="csr"))


def test_a_node_subset_reads_its_own_rows() -> None:
    counts = _counts(np.random.default_rng(1), 30, 512, 5)
    indptr, rows = count_rows.pack(counts)
    pick = np.array([7, 0, 29, 8, 4])
    cut = np.concatenate([rows[indptr[i]:indptr[i + 1]] for i in pick])
    _same(count_rows.unpack(cut, np.diff(indptr)[pick], 512, 5), counts[pick])


def test_counts_past_the_fields_room_are_split_and_summed_back() -> None:
    dim = 1 << 26  # 26 bits of column: a count field of 5 bits (room 31)
    bits, room = count_rows._field(dim)
    assert (bits, room) == (26, 31)
    counts = sp.csr_matrix((np.array([1, 31, 32, 100, 62, 5], dtype=np.float32),
                            np.array([3, 9, 1 << 25, 0, 7, dim - 1], dtype=np.int32),
                            np.array([0, 2, 2, 5, 6])), shape=(4, dim))
    indptr, rows = count_rows.pack(counts)
    # 1, 31 | - | 32 as 31 + 1, 100 as 31 + 31 + 31 + 7, 62 as 31 + 31 | 5
    assert np.array_equal(np.diff(indptr), [1, 0, 4, 1])
    _same(count_rows.unpack(rows, np.diff(indptr), dim, 4), counts)


def test_no_room_for_a_count_is_refused() -> None:
    with pytest.raises(ValueError):
        count_rows.pack(sp.csr_matrix((1, 1 << 31), dtype=np.float32))
