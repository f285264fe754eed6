"""Id-indexed arrays: growth keeps what was there, lookups past the end give the default."""

from __future__ import annotations

import numpy as np
import pytest

from stream_align.arrays import grown, lookup, nonzero_sparse, positions


def test_grown_keeps_rows_fills_new_ones_and_keeps_shape() -> None:
    rows = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = grown(rows, 5, -1.0)
    assert out.shape[1:] == (2,) and len(out) >= 5
    assert out[:3].tolist() == rows.tolist() and (out[3:] == -1.0).all()
    assert grown(rows, 2, 0.0) is rows  # big enough already


def test_lookup_past_the_end_is_the_default() -> None:
    assert lookup(np.array([5, 6, 7]), np.array([2, 0, 9]), -1).tolist() == [7, 5, -1]
    assert lookup(np.zeros(0, dtype=bool), np.array([3]), False).tolist() == [False]


@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (3, 0), (1, 1), (7, 13), (64, 40), (5, 3)])
@pytest.mark.parametrize("density", [0.0, 0.01, 0.3, 1.0])
def test_nonzero_sparse_is_numpys_nonzero(shape: tuple[int, int], density: float) -> None:
    rng = np.random.default_rng(sum(shape) + int(100 * density))
    mask = rng.random(shape) < density
    for m in (mask, mask[:, ::-1], mask.T):  # contiguous, a strided view, a transposed one
        want, got = np.nonzero(m), nonzero_sparse(m)
        assert [g.dtype for g in got] == [w.dtype for w in want]
        assert [g.tolist() for g in got] == [w.tolist() for w in want]


def test_nonzero_sparse_takes_only_boolean_matrices() -> None:
    with pytest.raises(ValueError):
        nonzero_sparse(np.ones((2, 2), dtype=np.int8))
    with pytest.raises(ValueError):
        nonzero_sparse(np.ones(4, dtype=bool))


def test_positions_are_each_ids_place_in_the_order_padding_past_the_end() -> None:
    """Searched in the sorted copy of ``order`` (decision 0118): each id's place in ``order``
    itself, ``-1`` padding at ``len(order)``."""
    rng = np.random.default_rng(5)
    order = rng.permutation(1000)[:300]
    ids = order[rng.integers(0, len(order), (40, 7))]
    ids[rng.random(ids.shape) < 0.3] = -1
    place = {int(x): i for i, x in enumerate(order.tolist())}
    want = [[place[x] if x >= 0 else len(order) for x in row] for row in ids.tolist()]
    assert positions(order, ids).tolist() == want
    assert positions(order[:0], np.full((2, 3), -1)).tolist() == [[0] * 3] * 2
