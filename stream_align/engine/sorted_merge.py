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
"""Entries placed at a time (their positions: 2 MB)."""


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
        arrays[j] = _placed(arrays[j], arrays[0], keep, added, into,
                            np.asarray(changed_values[j - 1])[live])
    arrays[0] = _placed(arrays[0], arrays[0], keep, added, into, added)


def _placed(array: np.ndarray, keys: np.ndarray, keep: np.ndarray, added: np.ndarray,
            into: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """``array``'s kept entries, each shifted past the ``added`` keys below its key, and
    ``fill`` at the added keys' places ``into``."""
    out = np.empty(int(np.count_nonzero(keep)) + len(added), dtype=array.dtype)
    at = 0
    for start in range(0, len(keys), SLAB):
        flags = keep[start:start + SLAB]
        kept = keys[start:start + SLAB][flags]
        to = at + np.arange(len(kept)) + np.searchsorted(added, kept)
        out[to] = array[start:start + SLAB][flags]
        at += len(kept)
    out[into] = fill
    return out
