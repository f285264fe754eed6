"""Stored ``h1`` rows (decision 0135): bit for bit, by model version, flags, deletes."""

import numpy as np
import pytest

from stream_align.store import StateStore
from stream_align.store.errors import CorruptValueError
from stream_align.store.keys import Table, pack


def test_rows_come_back_bit_for_bit_with_their_flags(store: StateStore) -> None:
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((5, 16)).astype(np.float32)
    rows[0, 0] = np.float32(1e-45)  # a subnormal survives too
    keys = ["e3", "e1", "ü2", "e0", "e4"]
    current = np.array([True, False, True, True, False])
    with store.transaction() as tx:
        tx.level1.put_rows("A", "v1", keys, rows, current, np.ones(5, dtype=bool))
        tx.level1.put_rows("B", "v1", ["e1"], rows[:1], current[:1], np.ones(1, dtype=bool))
    with store.transaction() as tx:
        got = tx.level1.read_all("A", "v1")
    order = [keys.index(k) for k in got.keys]
    assert sorted(got.keys) == sorted(keys) and got.rows.dtype == np.float32
    assert got.rows.tobytes() == rows[order].tobytes()
    assert got.current.tolist() == current[order].tolist()


def test_rows_of_another_version_are_not_read_and_a_delete_drops_a_row(
        store: StateStore) -> None:
    rows = np.arange(12, dtype=np.float32).reshape(3, 4)
    with store.transaction() as tx:
        tx.level1.put_rows("A", "v1", ["a", "b"], rows[:2], np.ones(2, dtype=bool),
                           np.ones(2, dtype=bool))
        tx.level1.put_rows("A", "v2", ["c"], rows[2:], np.ones(1, dtype=bool),
                           np.ones(1, dtype=bool))
    with store.transaction() as tx:
        assert tx.level1.read_all("A", "v1").keys == ["a", "b"]
        assert tx.level1.read_all("A", "v2").keys == ["c"]
        assert tx.level1.read_all("B", "v1").keys == []
        tx.level1.put_rows("A", "v1", ["a", "b"], rows[:2], np.ones(2, dtype=bool),
                           np.array([False, True]))
    with store.transaction() as tx:
        got = tx.level1.read_all("A", "v1")
    assert got.keys == ["b"] and got.rows.tobytes() == rows[1].tobytes()
    assert got.rows.shape == (1, 4)


def test_rows_of_one_version_of_unequal_widths_are_refused(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.level1.put_rows("A", "v1", ["a"], np.zeros((1, 4), dtype=np.float32),
                           np.ones(1, dtype=bool), np.ones(1, dtype=bool))
        tx._kv.put(Table.LEVEL1, pack("A", "b"), pack("v1") + b"\x01" + b"\x00" * 8)
    with store.transaction() as tx, pytest.raises(CorruptValueError):
        tx.level1.read_all("A", "v1")
