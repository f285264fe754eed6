"""Fold sorted changes into a sorted key array and its values, one new array at a time.

``PairTable`` holds a graph's pairs as one sorted ``int64`` key array (with a ``float64``
value beside it) and folds its recent changes in when they reach a sixteenth of it. Folding
by concatenating the kept and the added entries and sorting them held, for a moment, the old
arrays, the concatenation, the sort order and the sorted copies of both arrays together —
about three times the table besides the table itself; the pair book and who-lists-whom are
among the structures that grow with the graphs, so that moment grew with them (decision
0065). Here nothing is sorted: the added keys' places and each kept entry's shift are binary
searches, and each array's result is written, slab by slab, into a new array that replaces
the old one before the next array is built — held besides the table: one array and a flag
per entry.
"""

from __future__ import annotations

import numpy as np

SLAB = 1 << 18
"""Entries placed at a time (the kept ones copied out of a slab: 2 MB of ``int64``)."""


def fold(arrays: list[np.ndarray], changed: np.ndarray, live: np.ndarray,
         *changed_values: np.ndarray | None) -> None:
    """``arrays[0]`` (sorted distinct keys) without the ``changed`` keys (sorted, distinct),
    then with ``changed[live]`` added; each further array, if given, holds a value of each key
    and gets its ``changed_values[j][live]`` for the added ones. The list's arrays are replaced
    by the results, the values first (so an old array is freed before the next is built, where
    the caller holds no other reference to it)."""
    keys = arrays[0]
    at = np.minimum(np.searchsorted(keys, changed), max(len(keys) - 1, 0))
    found = keys[at] == changed if len(keys) else np.zeros(len(changed), dtype=bool)
    keep = np.ones(len(keys), dtype=bool)
    keep[at[found]] = False
    added = changed[live]
    into = (np.arange(len(added)) + np.searchsorted(keys, added)
            - np.searchsorted(changed[found], added))  # added's places among the kept
    del keys
    for j in range(1, len(arrays)):
        arrays[j] = _placed(arrays[j], keep, into, np.asarray(changed_values[j - 1])[live])
    arrays[0] = _placed(arrays[0], keep, into, added)


def _placed(array: np.ndarray, keep: np.ndarray, into: np.ndarray, fill: np.ndarray
            ) -> np.ndarray:
    """``array``'s kept entries in order, with ``fill`` at the sorted places ``into`` of the
    result: the kept entries fill the other places in turn, a slab at a time, by boolean
    copies. (Placing each kept entry by a binary search among the added keys cost
    ``O(log added)`` an entry: a sixteenth of the pair book folded into it, or one
    batch's changes folded into the recent arrays, 5 % of a 10-insert batch; decision 0082.)"""
    out = np.empty(int(np.count_nonzero(keep)) + len(into), dtype=array.dtype)
    free = np.ones(len(out), dtype=bool)
    free[into] = False
    out[into] = fill
    at = 0
    for start in range(0, len(keep), SLAB):
        kept = array[start:start + SLAB][keep[start:start + SLAB]]
        end = _span_end(into, at, len(kept))
        out[at:end][free[at:end]] = kept
        at = end
    return out


def _span_end(into: np.ndarray, at: int, count: int) -> int:
    """The end of the shortest span of the result's places from ``at`` with ``count`` places
    not in ``into`` (sorted): where the next ``count`` kept entries go."""
    end = at + count
    while True:
        taken = int(np.searchsorted(into, end) - np.searchsorted(into, at))
        if at + count + taken == end:
            return end
        end = at + count + taken
