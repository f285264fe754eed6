"""Set operations on 1-D integer arrays by sorting, with numpy's results.

numpy 2.3 made ``np.unique`` (and so ``union1d``, ``setdiff1d``, ``setxor1d`` and the sort
path of ``isin``) find distinct values with a C++ hash set before sorting them. On the
engine's node ids and packed pair keys (``left << 32 | right``) that is 5–30× slower than
sorting: a cProfile of a 1,000-insert zh_en batch spent 12 % of its time in the hash
(decision 0058). These functions return the same arrays (distinct values in ascending order,
the same dtype) from one sort; other dtypes fall back to numpy.

Most of the engine's unions join arrays that are already sorted (a stage's sorted output and
another's), and numpy's default sort of integers (its SIMD quicksort) costs as much on a few
ascending runs as on shuffled values, while its stable sort (timsort for 64-bit integers)
merges runs, an order of magnitude faster on two of them (decision 0113). Sorted values are
the same whichever sort made them, so :func:`unique` picks by the runs.
"""

from __future__ import annotations

import numpy as np


def _ints(*arrays: np.ndarray) -> bool:
    return all(a.dtype.kind in "iu" for a in arrays)


RUN_SHARE = 256
"""Values an ascending run must hold on average for :func:`unique` to sort by merging runs:
with runs this short timsort costs about what the default sort does, and far less with fewer,
longer runs (decision 0113)."""


def _sort_kind(flat: np.ndarray) -> str | None:
    """How to sort a 1-D integer array: timsort (``"stable"``) where it is a few ascending
    runs (one pass counts the descents), else numpy's default; the same order either way."""
    if len(flat) < 2 or np.count_nonzero(flat[1:] < flat[:-1]) * RUN_SHARE >= len(flat):
        return None
    return "stable"


def _distinct(ordered: np.ndarray) -> np.ndarray:
    """The distinct values of an ascending array."""
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def unique(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``: the distinct values, ascending."""
    flat = np.asarray(values).ravel()
    if not _ints(flat):
        return np.unique(flat)
    return _distinct(np.sort(flat, kind=_sort_kind(flat)))


def unique_of(parts: list[np.ndarray]) -> np.ndarray:
    """``unique(np.concatenate(parts))`` of integer arrays, ``parts`` emptied: their
    concatenation sorted in place and the parts let go first. Held at once that was the
    parts, their concatenation, its sorted copy, a mask and the result — 4.1 times the values
    against 2.1 here; at a bulk refresh's end of scoring they are every pair of the book, and
    that join was the 1M load's peak (decision 0138)."""
    flat = np.concatenate(parts)
    parts.clear()
    if not _ints(flat):
        return np.unique(flat)
    flat.sort(kind=_sort_kind(flat))
    return _distinct(flat)


def unique_rows(rows: np.ndarray) -> np.ndarray:
    """``np.unique(rows, axis=0)`` of a 2-D integer array: the distinct rows, ascending
    lexicographically, by one ``lexsort`` of the columns. numpy sorts the rows as structured
    records there, ≈ 4× slower on the ``(head, relation, tail)`` triples a recompute gathers
    for its local graph (decision 0062)."""
    rows = np.asarray(rows)
    if rows.ndim != 2 or not _ints(rows) or not rows.shape[1]:
        return np.unique(rows, axis=0)
    out = rows[np.lexsort(rows.T[::-1])]
    if len(out) < 2:
        return out
    keep = np.empty(len(out), dtype=bool)
    keep[0] = True
    np.any(out[1:] != out[:-1], axis=1, out=keep[1:])
    return out[keep]


def union1d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.union1d(a, b)``."""
    return unique(np.concatenate((np.asarray(a).ravel(), np.asarray(b).ravel())))


def isin(values: np.ndarray, tests: np.ndarray) -> np.ndarray:
    """``np.isin(values, tests)``: numpy's lookup table where the tests span a small range
    (numpy's own rule), else a binary search in the sorted distinct tests."""
    values, tests = np.asarray(values), np.asarray(tests).ravel()
    if not (_ints(values, tests) and values.dtype.kind == tests.dtype.kind):
        return np.isin(values, tests)
    if not len(tests) or not values.size:
        return np.zeros(values.shape, dtype=bool)
    if int(tests.max()) - int(tests.min()) <= 6 * (values.size + tests.size):
        return np.isin(values, tests, kind="table")
    return in_sorted(values, unique(tests))


def in_sorted(values: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    """``np.isin(values, distinct)`` for ``distinct`` already sorted and distinct (a table's
    own key array): one binary search, no sort."""
    values = np.asarray(values)
    if not len(distinct) or not values.size:
        return np.zeros(values.shape, dtype=bool)
    flat = values.ravel()
    at = np.minimum(np.searchsorted(distinct, flat), len(distinct) - 1)
    return (distinct[at] == flat).reshape(values.shape)


def setdiff1d(a: np.ndarray, b: np.ndarray, assume_unique: bool = False) -> np.ndarray:
    """``np.setdiff1d(a, b, assume_unique)``: values of ``a`` not in ``b``."""
    a = np.asarray(a).ravel() if assume_unique else unique(a)
    return a[~isin(a, b)]


def setxor1d(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.setxor1d(a, b)``: values in exactly one of ``a`` and ``b``, ascending."""
    return np.setxor1d(unique(a), unique(b), assume_unique=True)
