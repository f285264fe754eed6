"""The quantiser's k-means in two levels: every cell allotted, deterministic, and cells as
good as flat k-means's on clustered data."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from stream_align.index import kmeans as km
from stream_align.index import train_quantiser, training_rows


def _clustered(n: int, centres: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(centres, dim))
    x = base[rng.integers(0, centres, n)] + 0.3 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize(("sizes", "cells"), [([10, 0, 30, 60], 20), ([1, 1, 1, 97], 4),
                                               ([5, 5, 5], 15), ([7, 3, 90], 3)])
def test_shares_allot_every_cell_within_each_groups_points(sizes: list[int], cells: int) -> None:
    out = km.shares(np.array(sizes), cells)
    assert out.sum() == cells
    assert ((out >= 1) == (np.array(sizes) > 0)).all()
    assert (out <= np.array(sizes)).all()


def test_shares_follow_the_groups_sizes() -> None:
    assert km.shares(np.array([100, 300, 600]), 10).tolist() == [1, 3, 6]


def test_shares_refuse_more_cells_than_points() -> None:
    with pytest.raises(ValueError):
        km.shares(np.array([2, 3]), 6)


def test_two_level_centroids_are_unit_deterministic_and_cover_the_data() -> None:
    x = _clustered(6000, 40, 16, seed=3)
    first = km.two_level(x, 64, 8, seed=0)
    assert first.shape == (64, 16)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(first, km.two_level(x, 64, 8, seed=0))
    flat = km.kmeans(x, 64)  # below TWO_LEVEL_CELLS: one level
    # inner product of each point with its cell's centroid: within 2 % of flat k-means's
    assert (x @ first.T).max(axis=1).mean() > 0.98 * (x @ flat.T).max(axis=1).mean()


def test_train_quantiser_trains_in_two_levels_from_the_threshold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    x = _clustered(3000, 30, 8, seed=4)
    flat = train_quantiser(x, 32)
    monkeypatch.setattr(km, "TWO_LEVEL_CELLS", 32)
    two = train_quantiser(x, 32)
    assert two.shape == flat.shape and not np.array_equal(two, flat)
    pick = training_rows(len(x), 32)
    assert pick is not None and len(pick) == 32 * km.POINTS_PER_CELL
    start = km.two_level(x[pick], 32, 6)
    assert not np.array_equal(two, start)  # refined by flat iterations over all the points
    assert np.array_equal(two, km._flat(x[pick], 32, 0, iterations=km.REFINE_ITERATIONS,
                                        start=start))
    assert (x @ two.T).max(axis=1).mean() >= (x @ start.T).max(axis=1).mean() - 1e-4


def test_few_points_a_cell_train_without_faiss_warnings(capfd: pytest.CaptureFixture[str]
                                                         ) -> None:
    """The model's ladder trains its large rungs on a few points a cell (zh_en: 4.8 at 8,192
    cells): FAISS's "please provide at least … training points" went to stderr once per
    group, ≈ 200 lines in `stream-align train`'s output."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((600, 16)).astype(np.float32)
    km.kmeans(x / np.linalg.norm(x, axis=1, keepdims=True), 64)
    assert "WARNING" not in capfd.readouterr().err


def test_a_small_k_means_runs_on_one_thread_to_the_same_centroids(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenMP barriers cost a small k-means more CPU than its products (decision 0084): below
    ``SERIAL_BELOW`` it runs on one thread, the caller's thread setting restored after, and the
    centroids are the same bits as on the caller's threads."""
    seen: list[int] = []
    train = faiss.Kmeans.train

    def spy(self: faiss.Kmeans, *args: object, **kwargs: object) -> object:
        seen.append(faiss.omp_get_max_threads())
        return train(self, *args, **kwargs)

    monkeypatch.setattr(faiss.Kmeans, "train", spy)
    x = _clustered(3000, 30, 16, seed=5)
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        monkeypatch.setattr(km, "SERIAL_BELOW", 0)
        shared = km.kmeans(x, 64)
        monkeypatch.setattr(km, "SERIAL_BELOW", 1 << 40)
        serial = km.kmeans(x, 64)
        assert faiss.omp_get_max_threads() == 2  # restored
    finally:
        faiss.omp_set_num_threads(before)
    assert seen == [2, 1]
    assert np.array_equal(shared, serial)

