"""sorted_merge.fold against a dict, across slab edges (slabs of 7 entries)."""

from __future__ import annotations

import numpy as np

from stream_align.engine import sorted_merge


def test_fold_equals_a_dict_of_puts_and_removals(monkeypatch) -> None:
    monkeypatch.setattr(sorted_merge, "SLAB", 7)
    rng = np.random.default_rng(0)
    for trial in range(300):
        keys = np.unique(rng.integers(0, 500, int(rng.integers(0, 120))))
        values = rng.random(len(keys))
        changed = np.unique(rng.integers(0, 500, int(rng.integers(0, 60))))
        live = rng.random(len(changed)) < (0.0, 0.5, 1.0)[trial % 3]
        put = rng.random(len(changed))
        want = dict(zip(keys.tolist(), values.tolist(), strict=True))
        for key, there, value in zip(changed.tolist(), live.tolist(), put.tolist(), strict=True):
            if there:
                want[key] = value
            else:
                want.pop(key, None)
        arrays = [keys, values]
        sorted_merge.fold(arrays, changed, live, put)
        assert arrays[0].tolist() == sorted(want), trial
        assert arrays[1].tolist() == [want[k] for k in sorted(want)], trial
        assert arrays[0].dtype == np.int64 and arrays[1].dtype == np.float64
        keyed = [keys]  # a set: keys only
        sorted_merge.fold(keyed, changed, live)
        assert keyed[0].tolist() == sorted(want)


def test_fold_replaces_the_arrays_it_is_given() -> None:
    """The old arrays are not written (a caller's other reference still reads them) and the
    list holds the new ones."""
    keys, values = np.array([2, 4, 6], dtype=np.int64), np.array([0.2, 0.4, 0.6])
    arrays = [keys, values]
    sorted_merge.fold(arrays, np.array([3, 4], dtype=np.int64), np.array([True, False]),
                      np.array([0.3, 9.0]))
    assert arrays[0].tolist() == [2, 3, 6] and arrays[1].tolist() == [0.2, 0.3, 0.6]
    assert keys.tolist() == [2, 4, 6] and values.tolist() == [0.2, 0.4, 0.6]
