"""The scan's one-pass selection returns ``best_first``'s top ``r`` and the cells reaching
their column's bound, with ties across the cut, missing floors and loose floors."""

from __future__ import annotations

import numpy as np
import pytest

from stream_align.engine import scan_top
from stream_align.engine.exact_topk import best_first


def _case(seed: int, n: int, m: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, (n, m)).astype(np.float32) / levels  # many equal scores
    reach = rng.choice([np.inf, 0.9, 0.5, -np.inf], m, p=[0.5, 0.3, 0.15, 0.05])
    return scores, reach


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [7, 1000, 2**20])
@pytest.mark.parametrize("block", [1, 7 * 300, 1 << 19])
def test_select_is_best_first_and_the_bound_hits(seed: int, levels: int, block: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``block``: the cells tested at a time (a row, seven rows, all 40 rows at once)."""
    monkeypatch.setattr(scan_top, "BLOCK_CELLS", block)
    n, m, r = 40, 300, 20
    scores, reach = _case(seed, n, m, levels)
    rng = np.random.default_rng(seed + 100)
    near = scores + rng.normal(0, 0.05, scores.shape)  # old lists: near the new top
    columns = np.argsort(-near, axis=1)[:, :r + 3]
    columns[rng.random(columns.shape) < 0.1] = -1  # members without a vector
    columns[:5] = -1  # no list yet
    floor = scan_top.floors(scores, columns, r)
    kth = -np.sort(-scores, axis=1)[:, r - 1]
    assert (floor[np.isfinite(floor)] <= kth[np.isfinite(floor)]).all()
    assert np.isinf(floor[:5]).all()
    floor[5:8] = -1.0  # loose floors: every cell a candidate, past MOST_CANDIDATES
    floor[8] = kth[8]  # the tightest floor
    handed: list[int] = []

    def counted(rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        handed.append(len(rows))
        return best_first(rows, k)

    monkeypatch.setattr(scan_top, "best_first", counted)
    (index, score), (rows, cols) = scan_top.select(scores, r, floor, reach)
    assert 8 <= sum(handed) < n or levels == 7  # the rows without a floor, the loose ones
    want_index, want_score = best_first(scores.copy(), r)
    np.testing.assert_array_equal(index, want_index)
    np.testing.assert_array_equal(score, want_score)
    assert score.dtype == want_score.dtype and index.dtype == want_index.dtype
    want_rows, want_cols = np.nonzero(scores >= reach[None, :])
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_array_equal(cols, want_cols)


def test_a_row_as_wide_as_r_and_no_rows() -> None:
    scores, reach = _case(1, 6, 5, 3)
    floor = scan_top.floors(scores, np.tile(np.arange(5), (6, 1)), 5)
    (index, _), _ = scan_top.select(scores, 5, floor, reach)
    np.testing.assert_array_equal(index, best_first(scores.copy(), 5)[0])
    (index, _), (rows, _) = scan_top.select(np.zeros((0, 5), np.float32), 3, np.zeros(0),
                                            reach)
    assert index.shape == (0, 3) and not len(rows)


def test_thresholds_in_float32_compare_as_in_float64() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(0, 1, 2000), [0.0, -0.0, np.inf, -np.inf]])
    x = values.astype(np.float32)
    up, down = np.float32(np.inf), -np.float32(np.inf)
    x = np.concatenate([x, np.nextafter(x, up), np.nextafter(x, down)])
    t = np.concatenate([values, x.astype(np.float64), [1e300, -1e300, np.nan]])
    t32 = scan_top.at_least(t, np.dtype(np.float32))
    assert t32.dtype == np.float32
    np.testing.assert_array_equal(x[:, None] >= t32[None, :], x[:, None] >= t[None, :])
