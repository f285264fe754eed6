"""Id-indexed arrays: growth keeps what was there, lookups past the end give the default."""

from __future__ import annotations

import numpy as np

from stream_align.arrays import grown, lookup


def test_grown_keeps_rows_fills_new_ones_and_keeps_shape() -> None:
    rows = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = grown(rows, 5, -1.0)
    assert out.shape[1:] == (2,) and len(out) >= 5
    assert out[:3].tolist() == rows.tolist() and (out[3:] == -1.0).all()
    assert grown(rows, 2, 0.0) is rows  # big enough already


def test_lookup_past_the_end_is_the_default() -> None:
    assert lookup(np.array([5, 6, 7]), np.array([2, 0, 9]), -1).tolist() == [7, 5, -1]
    assert lookup(np.zeros(0, dtype=bool), np.array([3]), False).tolist() == [False]
