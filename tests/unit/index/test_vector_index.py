"""FAISS index: add, replace, remove and re-add by id."""

from __future__ import annotations

import numpy as np
import pytest

from stream_align.index import VectorIndex


def test_remove_then_add_by_id() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    index = VectorIndex(8)
    ids = np.arange(100, 150)
    index.add(ids, vectors)
    assert len(index) == 50
    _, found = index.search(vectors[:3], 1)
    assert found[:, 0].tolist() == [100, 101, 102]

    assert index.remove(np.array([101, 999])) == 1
    assert len(index) == 49
    _, found = index.search(vectors[1:2], 5)
    assert 101 not in found[0]

    index.add(np.array([101]), -vectors[1:2])  # re-added with a new vector
    query = -vectors[1:2] / np.linalg.norm(vectors[1])
    scores, found = index.search(query, 1)
    assert found[0, 0] == 101 and abs(scores[0, 0] - 1.0) < 1e-5  # stored normalised: cosine 1


def test_add_of_an_existing_id_replaces_it() -> None:
    index = VectorIndex(4)
    index.add(np.array([7]), np.array([[1.0, 0, 0, 0]]))
    index.add(np.array([7]), np.array([[0, 1.0, 0, 0]]))
    assert len(index) == 1
    assert np.allclose(index.reconstruct_many(np.array([7]))[0], [0, 1, 0, 0])


def test_reconstruct_many_returns_rows_in_the_order_asked() -> None:
    index = VectorIndex(3, normalise=False)
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    index.add(np.array([10, 11, 12, 13]), vectors)
    assert np.array_equal(index.reconstruct_many(np.array([13, 10, 12])), vectors[[3, 0, 2]])
    assert index.reconstruct_many(np.array([], dtype=np.int64)).shape == (0, 3)


def test_rows_are_the_stored_vectors_under_their_ids_after_a_remove() -> None:
    index = VectorIndex(3, normalise=False)
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    index.add(np.array([10, 11, 12, 13]), vectors)
    index.remove(np.array([11]))
    ids, rows = index.rows()
    assert dict(zip(ids.tolist(), map(tuple, rows.tolist()), strict=True)) == {
        i: tuple(vectors[i - 10].tolist()) for i in (10, 12, 13)}


def test_replacing_in_place_keeps_every_other_row_and_survives_a_remove() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(20, 4)).astype(np.float32)
    index = VectorIndex(4, normalise=False)
    index.add(np.arange(20), vectors)
    index.remove(np.array([3, 7]))  # compacts: later rows move up
    fresh = rng.normal(size=(3, 4)).astype(np.float32)
    index.add(np.array([12, 19, 3]), fresh)  # two replaced in place, one added again
    expected = {i: vectors[i] for i in range(20) if i != 7}
    expected.update(zip([12, 19, 3], fresh, strict=True))
    ids, stored = index.rows()
    assert sorted(ids.tolist()) == sorted(expected)
    for i, row in zip(ids.tolist(), stored, strict=True):
        np.testing.assert_array_equal(row, expected[i])
    np.testing.assert_array_equal(index.reconstruct_many(np.array([19, 3])), fresh[1:])


def test_reconstruct_many_reads_what_faiss_reconstructs_and_refuses_absent_ids() -> None:
    """The rows read by ``np.take`` are FAISS's own ``reconstruct_batch`` bits, after adds,
    in-place replacements and a compacting remove; an absent id raises (FAISS raised too)."""
    rng = np.random.default_rng(2)
    index = VectorIndex(5)
    index.add(np.arange(30), rng.normal(size=(30, 5)))
    index.remove(np.array([4, 17]))
    index.add(np.array([9, 4, 31]), rng.normal(size=(3, 5)))
    ids = np.array([31, 0, 9, 4, 29, 9])
    expected = index._index.reconstruct_batch(ids)
    np.testing.assert_array_equal(index.reconstruct_many(ids).view(np.uint32),
                                  expected.view(np.uint32))
    with pytest.raises(KeyError):
        index.reconstruct_many(np.array([17]))


def test_columns_follow_adds_replacements_growth_and_removals() -> None:
    rng = np.random.default_rng(3)
    index = VectorIndex(8)
    assert index.columns().shape == (8, 0)
    index.add(np.arange(10), rng.normal(size=(10, 8)))
    assert np.array_equal(index.columns(), index.rows()[1].T)  # transposed on the first ask
    for step in range(4):  # replacements and new ids past the kept columns' room
        ids = np.concatenate([[3, 7], np.arange(10 + 700 * step, 10 + 700 * (step + 1))])
        index.add(ids, rng.normal(size=(len(ids), 8)))
        assert np.array_equal(index.columns(), index.rows()[1].T), f"after add {step}"
    index.remove(np.array([0, 5, 900]))  # the storage compacts: transposed anew
    assert np.array_equal(index.columns(), index.rows()[1].T), "after remove"
    index.add(np.array([5, 5000]), rng.normal(size=(2, 8)))
    assert np.array_equal(index.columns(), index.rows()[1].T), "after a re-add"
