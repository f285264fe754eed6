"""A name row from its raw counts is the row the IDF diagonal's product made, bit for bit."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from stream_align.model.features import descending, idf_rows, name_counts, name_rows
from stream_align.model.settings import FeatureSettings
from stream_align.model.sparse_rows import unit_rows

NAMES = ["Zhang San", "", "北京市 海淀区", "aaaa aaaa aaaa", "x", "The Beatles (band)",
         "Ünïcödé  spaces\tand\nlines", "12 345 6789", "a" * 300, "Saint-Étienne"]


def _product(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """The definition the rows had: sublinear TF times the IDF diagonal, unit rows."""
    tf = counts.copy()
    tf.data = 1.0 + np.log(tf.data)
    return unit_rows(tf @ sp.diags(idf)).astype(np.float32).tocsr()


def _same(got: sp.csr_matrix, want: sp.csr_matrix) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype == np.float32
    assert np.array_equal(got.indptr, want.indptr), "row lengths differ"
    assert np.array_equal(got.indices, want.indices), "column order differs"
    assert np.array_equal(got.data.view(np.int32), want.data.view(np.int32)), "bits differ"


def test_name_rows_are_the_diagonal_products_rows() -> None:
    settings = FeatureSettings()
    idf = np.random.default_rng(0).uniform(1.0, 9.0, settings.name_dim).astype(np.float32)
    counts = name_counts(NAMES, settings)
    _same(name_rows(counts, idf), _product(counts, idf))


def test_a_rows_bits_do_not_depend_on_the_rows_beside_it() -> None:
    settings = FeatureSettings()
    idf = np.random.default_rng(1).uniform(1.0, 9.0, settings.name_dim).astype(np.float32)
    whole = name_rows(name_counts(NAMES, settings), idf)
    for pick in ([3], [8, 0, 5], list(range(len(NAMES)))[::-1]):
        _same(idf_rows(descending(name_counts([NAMES[i] for i in pick], settings)), idf),
              whole[pick])
