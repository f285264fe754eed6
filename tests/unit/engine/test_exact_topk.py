"""One pass over the score matrix gives both directions' exact top-R."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stream_align.engine.exact_topk import InnerProducts, top_both_ways
from stream_align.engine.threads import second_threads


def _brute(q: np.ndarray, b: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    s = q @ b.T
    order = np.lexsort((np.broadcast_to(np.arange(s.shape[1]), s.shape), -s), axis=1)[:, :r]
    return order, np.take_along_axis(s, order, axis=1)


@pytest.mark.parametrize(("n", "m", "r", "chunk"), [(37, 53, 5, 8), (10, 3, 5, 4), (1, 9, 9, 512)])
def test_top_both_ways_equals_brute_force(n: int, m: int, r: int, chunk: int) -> None:
    rng = np.random.default_rng(n * m)
    q = rng.standard_normal((n, 6)).astype(np.float32)
    b = rng.standard_normal((m, 6)).astype(np.float32)
    rows, cols = top_both_ways(q, b, r, r, chunk=chunk)
    want_rows, want_rows_s = _brute(q, b, r)
    want_cols, want_cols_s = _brute(b, q, r)
    assert np.array_equal(rows.index, want_rows)
    assert np.array_equal(cols.index, want_cols)
    np.testing.assert_allclose(rows.score, want_rows_s, atol=1e-5)
    np.testing.assert_allclose(cols.score, want_cols_s, atol=1e-5)
    assert rows.index.shape == (n, min(r, m)) and cols.index.shape == (m, min(r, n))


def test_top_both_ways_orders_ties_by_index() -> None:
    """Equal scores come lower index first; which of them make the cut at the r-th place is
    not specified (the batch aligner's FAISS search does not specify it either)."""
    q = np.ones((4, 2), dtype=np.float32)
    b = np.ones((6, 2), dtype=np.float32)
    rows, cols = top_both_ways(q, b, 3, 2, chunk=3)
    for index in (*rows.index, *cols.index):
        assert list(index) == sorted(index) and len(set(index)) == len(index)
    assert rows.index.max() < 6 and cols.index.max() < 4


def test_top_both_ways_with_an_empty_side() -> None:
    q = np.ones((3, 2), dtype=np.float32)
    rows, cols = top_both_ways(q, np.zeros((0, 2), dtype=np.float32), 4, 4)
    assert rows.index.shape == (3, 0) and cols.index.shape == (0, 3)


def test_inner_products_multiplies_nearly_empty_columns_sparsely() -> None:
    rng = np.random.default_rng(1)
    q = rng.standard_normal((300, 140)).astype(np.float32)
    b = rng.standard_normal((500, 140)).astype(np.float32)
    q[:, 40:100] *= rng.random((300, 60)) < 0.002  # columns 40..99 nearly empty
    b[:, 40:100] *= rng.random((500, 60)) < 0.002
    product = InnerProducts(b, len(q))
    assert product.split and product.dense == [slice(0, 40), slice(100, 140)]
    assert len(product.sparse) == 60
    np.testing.assert_allclose(product(q), q @ b.T, rtol=1e-5, atol=1e-5)
    assert not InnerProducts(b, 3).split  # a few rows: one plain product


def test_inner_products_joins_narrow_runs_to_their_neighbours() -> None:
    """A lone empty column among dense ones is multiplied densely, a lone dense column among
    empty ones sparsely: one BLAS product per wide run, the same sums."""
    rng = np.random.default_rng(2)
    q = rng.standard_normal((300, 140)).astype(np.float32)
    b = rng.standard_normal((500, 140)).astype(np.float32)
    b[:, 20] = 0.0
    b[:, 60:140] *= rng.random((500, 80)) < 0.002
    b[:, 100] = rng.standard_normal(500)
    product = InnerProducts(b, len(q))
    assert product.dense == [slice(0, 60)]
    assert product.sparse.tolist() == list(range(60, 140))
    np.testing.assert_allclose(product(q), q @ b.T, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sparse", [False, True])
def test_inner_products_into_a_reused_matrix_are_the_same_bits(sparse: bool) -> None:
    """A scan's later chunks write into the first chunk's matrix (shorter chunks into its
    first rows): the same bits as a fresh product, whatever the matrix held before."""
    rng = np.random.default_rng(3)
    q = rng.standard_normal((300, 140)).astype(np.float32)
    b = rng.standard_normal((500, 140)).astype(np.float32)
    if sparse:
        b[:, 40:100] *= rng.random((500, 60)) < 0.002
    product = InnerProducts(b, len(q))
    assert product.split == sparse
    held = np.full((len(q), len(b)), np.nan, dtype=np.float32)
    for part in (q, q[:7] * 2, q[100:]):
        fresh = InnerProducts(b, len(q))(part)
        into = product(part, held[:len(part)])
        assert np.shares_memory(into, held)
        assert np.array_equal(into, fresh)
    assert not sparse or np.array_equal(InnerProducts(b, 3)(q[:3], held[:3]), q[:3] @ b.T)


@pytest.mark.parametrize("rows", [1, 2, 7, 64, 300])
def test_inner_products_from_kept_columns_are_the_same_bits(rows: int) -> None:
    """``VectorIndex.columns`` (``b`` transposed, with room past its end) read by the product:
    the bits of ``q @ b.T`` (one row: that product itself, its sums differ from the other's)."""
    rng = np.random.default_rng(rows)
    b = rng.normal(size=(3000, 256)).astype(np.float32)
    kept = np.zeros((256, 3500), dtype=np.float32)
    kept[:, :3000] = b.T
    q = rng.normal(size=(rows, 256)).astype(np.float32)
    product = InnerProducts(b, rows, kept[:, :3000])
    expected = np.matmul(q, b.T)
    assert np.array_equal(product(q), expected)
    assert np.array_equal(product(q, np.empty_like(expected)), expected), "into a kept matrix"


def test_top_both_ways_keeps_the_lower_row_of_a_tie_after_the_first_chunk() -> None:
    """Once a column holds ``r`` rows, a later chunk's row that only equals its ``r``-th best
    does not enter; a better one does (and the kept rows stay best first)."""
    b = np.eye(3, dtype=np.float32)
    q = np.array([[1, 0, 0], [2, 0, 0], [0, 1, 0],  # chunk 1: column 0 holds rows 1, 0
                  [1, 0, 0], [3, 0, 0], [0, 2, 0]], dtype=np.float32)  # chunk 2
    _, cols = top_both_ways(q, b, 1, 2, chunk=3)
    assert cols.index[0].tolist() == [4, 1]  # row 4 (3.0) enters, row 3 (1.0 = row 0's) not
    assert cols.index[1].tolist() == [5, 2]
    assert cols.score[0].tolist() == [3.0, 2.0]


def _sorted_merge(kept_i: np.ndarray, kept_s: np.ndarray, s: np.ndarray, start: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Each column's kept list and a chunk's cells above its last kept score, merged by one
    stable sort (kept first, then the chunk's rows in order): the column top's definition."""
    r = kept_i.shape[1]
    out_i, out_s = kept_i.copy(), kept_s.copy()
    for c in range(s.shape[1]):
        rows = np.flatnonzero(s[:, c] > kept_s[c, -1])
        index = np.concatenate([kept_i[c], rows + start])
        score = np.concatenate([kept_s[c], s[rows, c]])
        order = np.argsort(-score, kind="stable")[:r]
        out_i[c], out_s[c] = index[order], score[order]
    return out_i, out_s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_column_top_merge_equals_one_stable_sort(seed: int) -> None:
    """Scores drawn from a few values (ties everywhere): after each chunk every column holds
    what a stable sort of its kept list and the chunk's admitted cells puts first."""
    from stream_align.engine.exact_topk import _ColumnTop

    rng = np.random.default_rng(seed)
    top = _ColumnTop(40, 5)
    top.add(rng.integers(0, 6, (7, 40)).astype(np.float32), 0)
    for start in range(7, 70, 9):
        s = rng.integers(0, 8, (9, 40)).astype(np.float32)
        want = _sorted_merge(top.index, top.score, s, start)
        top.add(s, start)
        assert np.array_equal(top.index, want[0]) and np.array_equal(top.score, want[1])


@pytest.mark.parametrize("r_rows", [0, 4])
def test_top_both_ways_on_two_threads_is_the_same_bits(r_rows: int) -> None:
    """The next chunk's products and row tops beside this chunk's column tops (torch on two
    threads): the same arrays as one thread, with ties among the scores."""
    rng = np.random.default_rng(5)
    q = rng.integers(-3, 4, (203, 8)).astype(np.float32)  # many equal scores
    b = rng.integers(-3, 4, (61, 8)).astype(np.float32)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = top_both_ways(q, b, r_rows, 6, chunk=16)
        torch.set_num_threads(2)
        with second_threads(True):
            two = top_both_ways(q, b, r_rows, 6, chunk=16)
    finally:
        torch.set_num_threads(before)
    for x, y in zip((one[0], one[1]), (two[0], two[1]), strict=True):
        assert x.index.tobytes() == y.index.tobytes() and x.score.tobytes() == y.score.tobytes()
    want, _ = _brute(b, q, 6)
    assert np.array_equal(two[1].index, want)


def _first_chunk_both_ways(s: np.ndarray, r: int, start: int):
    """The first chunk's column tops by the bound (``_first``) and by the transposed copy's
    selection (the path it replaces, still taken where ``_first`` declines)."""
    from stream_align.engine.exact_topk import _ColumnTop

    bound = _ColumnTop(s.shape[1], r)
    bound.add(s, start)
    selected = _ColumnTop(s.shape[1], r)
    selected._first = lambda *_: False  # type: ignore[method-assign]
    selected.add(s, start)
    return bound, selected


@pytest.mark.parametrize(("c", "m", "r", "values"), [(300, 40, 7, 0), (97, 13, 5, 0),
                                                      (64, 50, 6, 5), (31, 20, 30, 3),
                                                      (200, 30, 4, 2)])
def test_first_chunk_by_bound_equals_the_selection(c: int, m: int, r: int, values: int) -> None:
    """The first chunk's tops from the group-maxima bound: the same index and score bytes as
    the transposed selection — with scores from a few values (ties across the cut: those
    columns take the selection), with −0 and +0 among them, and with ``r`` above
    ``FIRST_GROUPS · r`` rows' worth (one row a group)."""
    rng = np.random.default_rng(c * m + r)
    if values:
        s = rng.integers(-values, values + 1, (c, m)).astype(np.float32)
        s[rng.random((c, m)) < 0.2] = -0.0
    else:
        s = rng.standard_normal((c, m)).astype(np.float32)
    bound, selected = _first_chunk_both_ways(s, r, 1000)
    assert bound.index.tobytes() == selected.index.tobytes()
    assert bound.score.tobytes() == selected.score.tobytes()
    assert bound.index.shape == (m, r)


def test_first_chunk_with_a_nan_takes_the_selection() -> None:
    s = np.random.default_rng(3).standard_normal((50, 8)).astype(np.float32)
    s[7, 2] = np.nan
    from stream_align.engine.exact_topk import _ColumnTop

    top = _ColumnTop(8, 4)
    assert not top._first(s, 0)
    top.add(s, 0)
    _, selected = _first_chunk_both_ways(s, 4, 0)
    assert top.index.tobytes() == selected.index.tobytes()


def test_at_least_counts_as_the_comparison() -> None:
    """Each cell's count of kept scores at least its own (rows best first), by binary search:
    the comparison's count, ties, −0 against +0 and infinities included."""
    from stream_align.engine.exact_topk import _at_least

    rng = np.random.default_rng(4)
    pool = np.array([-np.inf, -2, -1, -0.0, 0.0, 1, 2.5, np.inf], dtype=np.float32)
    kept = -np.sort(-rng.choice(pool, (30, 6)), axis=1)
    run = rng.integers(0, 30, 500)
    score = rng.choice(pool, 500)
    want = (kept[run] >= score[:, None]).sum(axis=1)
    assert np.array_equal(_at_least(kept, run, score), want)


@pytest.mark.parametrize(("c", "m", "r", "values"), [(40, 300, 7, 0), (13, 97, 5, 0),
                                                      (50, 64, 6, 5), (20, 31, 30, 3)])
def test_bounded_row_tops_equal_best_first(c: int, m: int, r: int, values: int) -> None:
    """Each row's tops from the group-maxima bound: ``best_first``'s bytes, ties across the cut
    (rows taken by ``best_first`` itself), −0 and +0 included; ``None`` with a NaN."""
    from stream_align.engine.exact_topk import best_first, bounded_top

    rng = np.random.default_rng(c + m + r)
    if values:
        s = rng.integers(-values, values + 1, (c, m)).astype(np.float32)
        s[rng.random((c, m)) < 0.2] = -0.0
    else:
        s = rng.standard_normal((c, m)).astype(np.float32)
    top = bounded_top(s, r, axis=1)
    want = best_first(s, r)
    assert top is not None
    assert top.index.tobytes() == want[0].tobytes() and top.score.tobytes() == want[1].tobytes()
    s[3, 5] = np.nan
    assert bounded_top(s, r, axis=1) is None
