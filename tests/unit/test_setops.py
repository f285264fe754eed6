"""``setops`` returns numpy's arrays (values, order and dtype) for the engine's inputs: node
ids, packed pair keys, negative padding, empty arrays and mixed integer widths."""

import numpy as np
import pytest

from stream_align import setops


def _cases(rng: np.random.Generator) -> list[np.ndarray]:
    packed = rng.integers(0, 50, 300) << 32 | rng.integers(0, 40, 300)
    return [np.zeros(0, dtype=np.int64), np.array([7]), np.array([3, 3, 3]),
            rng.integers(-5, 30, 200), rng.integers(0, 2**40, 500), packed,
            rng.integers(0, 1000, 50).astype(np.int32), packed[:40].reshape(8, 5)]


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(5))
def test_every_operation_equals_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cases = _cases(rng)
    for a in cases:
        _same(setops.unique(a), np.unique(a))
        for b in cases:
            _same(setops.union1d(a, b), np.union1d(a, b))
            _same(setops.isin(a, b), np.isin(a, b))
            _same(setops.setdiff1d(a, b), np.setdiff1d(a, b))
            _same(setops.setxor1d(a, b), np.setxor1d(a, b))
            _same(setops.in_sorted(a, np.unique(b)), np.isin(a, b))
            ua, ub = np.unique(a)[::-1].copy(), np.unique(b)  # kept in a's order
            _same(setops.setdiff1d(ua, ub, assume_unique=True),
                  np.setdiff1d(ua, ub, assume_unique=True))


@pytest.mark.parametrize("seed", range(3))
def test_sorted_runs_give_numpys_arrays(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Arrays of a few ascending runs (unions of sorted arrays, an already sorted one, signed
    and 32-bit values, repeats across runs) take the merging sort and give numpy's values;
    shuffled ones take the default sort."""
    rng = np.random.default_rng(seed)
    kinds: list[str | None] = []
    real = np.sort

    def spy(a: np.ndarray, kind: str | None = None) -> np.ndarray:
        kinds.append(kind)
        return real(a, kind=kind)

    monkeypatch.setattr(np, "sort", spy)
    runs = [np.unique(rng.integers(-2**40, 2**40, n)) for n in (3000, 700, 1)]
    small = np.unique(rng.integers(-50_000, 50_000, 900)).astype(np.int32)
    for a, b in [(runs[0], runs[1]), (runs[1], runs[0]), (runs[0], runs[0][::3]),
                 (runs[0], runs[2]), (small, small[5:])]:
        kinds.clear()
        _same(setops.union1d(a, b), np.union1d(a, b))
        assert kinds == ["stable"]
    kinds.clear()
    _same(setops.unique(runs[0]), np.unique(runs[0]))
    shuffled = rng.permutation(runs[0])
    _same(setops.unique(shuffled), np.unique(shuffled))
    assert kinds[0] == "stable" and kinds[1] is None


def test_both_lookup_paths_are_taken() -> None:
    """A narrow range of tests goes to numpy's table, a wide one to the binary search; both
    answer the same, including values outside the tests' range."""
    values = np.array([-3, 0, 5, 9, 2**33, 2**33 + 1], dtype=np.int64)
    narrow = np.array([0, 9, 5], dtype=np.int64)
    wide = np.array([2**33, 0, 2**33], dtype=np.int64)
    _same(setops.isin(values, narrow), np.array([False, True, True, True, False, False]))
    _same(setops.isin(values, wide), np.array([False, True, False, False, True, False]))


def test_other_dtypes_fall_back_to_numpy() -> None:
    floats = np.array([0.5, -0.0, 0.0, np.nan, 0.5])
    _same(setops.unique(floats), np.unique(floats))
    _same(setops.isin(floats, [0.5]), np.isin(floats, [0.5]))
    _same(setops.unique([]), np.unique([]))


@pytest.mark.parametrize("seed", range(4))
def test_unique_rows_equals_numpy(seed: int) -> None:
    """Distinct rows in numpy's order: signed values, repeats, one column or row, no rows,
    mixed widths; non-integer rows fall back to numpy."""
    rng = np.random.default_rng(seed)
    triples = rng.integers(-3, 6, (300, 3))
    cases = [triples, triples.astype(np.int32), triples[:, :1], triples[:1], triples[:0],
             np.concatenate([triples, triples[::-1]]), rng.integers(0, 2**40, (50, 2)),
             triples.astype(np.uint16)[:, ::-1], triples.astype(np.float64) / 2]
    for rows in cases:
        _same(setops.unique_rows(rows), np.unique(rows, axis=0))


@pytest.mark.parametrize("seed", range(3))
def test_unique_of_parts_equals_numpy_and_empties_them(seed: int) -> None:
    """``unique_of`` of 1-D parts (a few sorted runs, shuffled ones, one value, empty ones,
    mixed widths) gives ``np.unique`` of their concatenation, and lets the parts go."""
    rng = np.random.default_rng(seed)
    runs = [np.unique(rng.integers(-2**40, 2**40, n)) for n in (3000, 700, 1, 0)]
    shuffled = rng.integers(0, 2**40, 2000)
    for parts in ([runs[0], runs[1], runs[0][::3]], [shuffled, runs[2]], [runs[3]],
                  [runs[2]], [runs[3], shuffled.astype(np.int32), runs[1]],
                  [np.zeros(0, dtype=np.int64), np.array([5, 5, 5])]):
        want = np.unique(np.concatenate(parts))
        given = list(parts)
        _same(setops.unique_of(given), want)
        assert given == []


def test_unique_of_holds_the_values_about_twice() -> None:
    """Over the parts it is given, ``unique_of`` holds their concatenation, sorted in place, a
    mask and the result: ≈ 2.1 times the values (numpy's arrays traced), where
    ``unique(np.concatenate(parts))`` held a sorted copy besides, ≈ 3.1 times (and the parts
    with it: 4.1 against 2.1 in all)."""
    import tracemalloc
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 2**40, 250_000) for _ in range(4)]
    size = sum(p.nbytes for p in parts)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = setops.unique_of(parts)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(out) and peak <= 2.5 * size, peak / size
