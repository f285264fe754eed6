"""Split rungs (decision 0141): sub-cells of the top rung's cells from the vectors in them, a
probe that takes the best top cells first, and an IVF index on them that ranks exactly the
probed sub-cells' vectors."""

from __future__ import annotations

import numpy as np
import pytest

from stream_align.index import IvfVectorIndex, train_quantiser
from stream_align.index.ladder import FINE_FROM, stored_sub_cells, sub_cells
from stream_align.index.split import CANDIDATES, SplitCells, split_cells


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _split(x: np.ndarray, parents: np.ndarray, k: int) -> np.ndarray:
    top = IvfVectorIndex(parents, 1, normalise=False).assign(x)
    return split_cells(parents, k, ((p, x[top == p]) for p in range(len(parents))))


def test_sub_cells_sit_in_their_top_cell_rows_and_spares_are_zero() -> None:
    rng = np.random.default_rng(0)
    x = _unit(rng.normal(size=(400, 8)))
    parents = train_quantiser(x, 8)
    top = IvfVectorIndex(parents, 1, normalise=False).assign(x)
    few = np.concatenate([x[(top != 3) & (top != 5)], x[top == 5][:1]])  # 3 empty, 5: one
    leaves = _split(few, parents, 4)
    assert leaves.shape == (32, 8)
    np.testing.assert_array_equal(leaves[12], parents[3])  # an empty top cell: its centroid
    assert not leaves[13:16].any()
    assert np.count_nonzero(leaves[20:24].any(axis=1)) == 1
    np.testing.assert_array_equal(_split(few, parents, 4), leaves)  # deterministic


def test_the_probe_takes_the_best_sub_cells_of_the_best_top_cells() -> None:
    rng = np.random.default_rng(1)
    x = _unit(rng.normal(size=(600, 12)))
    parents = train_quantiser(x, 16)
    leaves = _split(x, parents, 4)
    leaves[5] = 0  # a spare sub-cell
    q = _unit(rng.normal(size=(300, 12)))
    scores, cells = SplitCells(parents, leaves).search(q, 3)
    tops = np.argsort(-(q @ parents.T), axis=1, kind="stable")[:, :-(-CANDIDATES * 3 // 4)]
    for i in range(len(q)):
        cand = (tops[i][:, None] * 4 + np.arange(4)).ravel()
        cand = cand[leaves[cand].any(axis=1)]
        s = leaves[cand] @ q[i]
        best = cand[np.argsort(-s, kind="stable")[:3]]
        assert cells[i].tolist() == best.tolist(), i
        np.testing.assert_allclose(scores[i], np.sort(s)[::-1][:3], rtol=1e-5)
    assert not (cells == 5).any()


def test_a_split_rung_refuses_cells_that_do_not_split_the_top() -> None:
    parents = _unit(np.random.default_rng(2).normal(size=(4, 3)))
    with pytest.raises(ValueError):
        SplitCells(parents, np.ones((10, 3), dtype=np.float32))


@pytest.mark.parametrize("float16", [False, True])
def test_an_index_on_a_split_rung_ranks_exactly_the_probed_sub_cells(float16: bool) -> None:
    rng = np.random.default_rng(3)
    x = _unit(rng.normal(size=(800, 16)))
    parents = train_quantiser(x, 8)
    index = IvfVectorIndex(_split(x, parents, 4), nprobe=3, float16=float16, parents=parents)
    assert index.nlist == 32 and index.parents is not None
    index.add(np.arange(800, dtype=np.int64), x)
    stored = index.reconstruct_many(np.arange(800, dtype=np.int64))
    cells = index.cells_of(np.arange(800))
    np.testing.assert_array_equal(cells, index.assign(stored if float16 else x))
    q = _unit(rng.normal(size=(50, 16)))
    _, probed = index.probe(q)
    _, ids = index.search(q, 5)
    for i in range(len(q)):
        inside = np.flatnonzero(np.isin(cells, probed[i]))
        s = stored[inside] @ q[i]
        expect = inside[np.argsort(-s, kind="stable")[:5]]
        assert set(ids[i][ids[i] >= 0].tolist()) == set(expect.tolist()), i


def test_sub_cells_keep_at_most_twice_the_fine_count_past_the_top() -> None:
    ladder = {c: np.zeros((c, 2), dtype=np.float32) for c in (1024, 2048, 4096, 8192)}
    assert sub_cells(ladder, FINE_FROM - 1, 0) == 1
    assert sub_cells(ladder, 800_000, 0) == 1  # 98 a cell of the top: not split
    assert sub_cells(ladder, 900_000, 0) == 2
    assert sub_cells(ladder, 2_000_000, 0) == 4  # 1M a side: 61 a sub-cell
    assert sub_cells(ladder, 4_000_000, 0) == 8
    assert sub_cells(ladder, 2_000_000, 4096) == 1  # a pinned rung
    assert sub_cells({c: ladder[c] for c in (1024, 2048)}, 400_000, 0) == 2
    assert stored_sub_cells(ladder, 32_768) == 4
    assert stored_sub_cells(ladder, 8192) == 0 and stored_sub_cells(ladder, 12_288) == 0
