"""A set of ``(u, v)`` node pairs with a float each, in sorted numpy arrays, not dicts of sets.

The engine's pair structures — the scored pairs (``PairBook``) and who lists whom
(``ListTable``'s reverse) — held as dicts of sets of Python objects cost 150–250 bytes a pair
(a tuple or set slot, boxed ints and floats, the hash tables' slack): at ~11 pairs per entity
that was ≈ 2 KB of every entity's memory each. Here a pair is one ``int64`` key ``u << 32 | v``
in a sorted array with its ``float64`` value beside it (16 bytes; 8 for a table without
values); the pairs of ``u`` are one binary search away. Recent changes sit in a small dict
(``u → {v: value or None}``) that is merged into the arrays when it reaches a sixteenth of
them, so a change costs amortised ``O(16 log n)`` inside numpy and the dict never holds more
than a few percent of the pairs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np

from stream_align import setops
from stream_align.engine import sorted_merge
from stream_align.engine.packed import LOW

_MIN_DELTA = 4096
"""Changes kept unmerged at least (so small tables do not re-sort on every change)."""
_EMPTY_KEYS = np.zeros(0, dtype=np.int64)
_EMPTY_VALUES = np.zeros(0, dtype=np.float64)
_EMPTY_LIVE = np.zeros(0, dtype=bool)


class PairTable:
    """``(u, v) → float`` for node ids ``0 ≤ u, v < 2**31`` (``values=False``: a set of pairs,
    every value ``0.0``)."""

    def __init__(self, values: bool = True) -> None:
        self._keys = np.zeros(0, dtype=np.int64)  # sorted u << 32 | v
        self._values = np.zeros(0, dtype=np.float64) if values else None
        self._delta: dict[int, dict[int, float | None]] = {}  # None: removed
        self._changes = 0  # entries in _delta
        self._recent = _EMPTY_KEYS  # sorted distinct keys changed many at a time (older
        self._recent_values = _EMPTY_VALUES  # than the dict's), their values
        self._recent_live = _EMPTY_LIVE  # and False where the change removed the pair

    def __len__(self) -> int:
        self._merge()
        return len(self._keys)

    def size_bound(self) -> int:
        """At least ``len``, without merging the recent changes (a size to compare with)."""
        return len(self._keys) + len(self._recent) + self._changes

    def _limit(self) -> int:
        return max(_MIN_DELTA, len(self._keys) >> 4)

    def get(self, u: int, v: int, default: float | None = None) -> float | None:
        row = self._delta.get(u)
        if row is not None and v in row:
            value = row[v]
            return default if value is None else value
        key = (u << 32) | v
        if len(self._recent):
            i = int(np.searchsorted(self._recent, key))
            if i < len(self._recent) and self._recent[i] == key:
                if not self._recent_live[i]:
                    return default
                return 0.0 if self._values is None else float(self._recent_values[i])
        i = int(np.searchsorted(self._keys, key))
        if i == len(self._keys) or self._keys[i] != key:
            return default
        return 0.0 if self._values is None else float(self._values[i])

    def get_many(self, us: np.ndarray, vs: np.ndarray) -> np.ndarray:
        """The values of ``(us[i], vs[i])``, ``NaN`` where absent (one vectorised search; the
        recent changes by dict only for the ``u`` that have some)."""
        us, vs = np.asarray(us, dtype=np.int64), np.asarray(vs, dtype=np.int64)
        keys = (us << 32) | vs
        at = np.minimum(np.searchsorted(self._keys, keys), max(len(self._keys) - 1, 0))
        out = np.full(len(keys), np.nan)
        if len(self._keys):
            hit = self._keys[at] == keys
            out[hit] = 0.0 if self._values is None else self._values[at[hit]]
        if len(self._recent):  # the array changes, over the merged arrays
            at = np.minimum(np.searchsorted(self._recent, keys), len(self._recent) - 1)
            hit = np.flatnonzero(self._recent[at] == keys)
            found = at[hit]
            values = np.zeros(len(found)) if self._values is None else self._recent_values[found]
            out[hit] = np.where(self._recent_live[found], values, np.nan)
        if self._delta:  # a dict read only for the pairs whose ``u`` has recent changes
            changed = np.fromiter(self._delta, dtype=np.int64, count=len(self._delta))
            hits = np.flatnonzero(setops.isin(us, changed))
            for i, u, v in zip(hits.tolist(), us[hits].tolist(), vs[hits].tolist(),
                               strict=True):
                row = self._delta[u]
                if v in row:
                    value = row[v]
                    out[i] = np.nan if value is None else value
        return out

    def put(self, u: int, v: int, value: float = 0.0) -> None:
        self._change(u, v, value)

    def put_many(self, us: np.ndarray, vs: np.ndarray, values: np.ndarray | None = None
                 ) -> None:
        """``put`` of distinct pairs ``(us[i], vs[i])`` (values ``0.0`` if not given); more than
        the dict would hold (a bulk refresh's scores) go into the arrays in one sorted merge."""
        us, vs = np.asarray(us, dtype=np.int64), np.asarray(vs, dtype=np.int64)
        given = np.zeros(len(us)) if values is None else np.asarray(values, dtype=np.float64)
        if len(us) <= self._limit():
            self._change_arrays((us << 32) | vs, given, np.ones(len(us), dtype=bool))
            return
        self._merge()
        self._put_sorted((us << 32) | vs, given)

    def discard_many(self, us: np.ndarray, vs: np.ndarray) -> None:
        """``discard`` of every ``(us[i], vs[i])`` at once."""
        self.change_many(us, vs, present=False)

    def _change_arrays(self, keys: np.ndarray, values: np.ndarray, live: np.ndarray) -> None:
        """Record changes of many pairs in the sorted recent arrays (a later change of the same
        key wins). The dict's changes are newer than the arrays': they move in first."""
        if not len(keys):
            return
        if self._delta:
            self._fold_dict()
        order = np.argsort(keys, kind="stable")  # the latest change of a key sorts last
        keys, values, live = keys[order], values[order], live[order]
        last = np.ones(len(keys), dtype=bool)
        last[:-1] = keys[1:] != keys[:-1]
        keys, values, live = keys[last], values[last], live[last]
        if len(self._recent):  # folded into the sorted recent arrays, not sorted again with
            # them (up to a sixteenth of the table: decision 0076); a removal is kept there
            # as a change, so every key goes in, its liveness beside its value
            recent = [self._recent, self._recent_values, self._recent_live]
            sorted_merge.fold(recent, keys, np.ones(len(keys), dtype=bool), values, live)
            keys, values, live = recent
        self._recent, self._recent_values, self._recent_live = keys, values, live
        if len(self._recent) > self._limit():
            self._merge()

    def _fold_dict(self) -> None:
        """Move the dict's changes into the recent arrays."""
        keys, values, live = [], [], []
        for u, row in self._delta.items():
            for v, value in row.items():
                keys.append((u << 32) | v)
                values.append(0.0 if value is None else value)
                live.append(value is not None)
        self._delta, self._changes = {}, 0
        self._change_arrays(np.array(keys, dtype=np.int64), np.array(values, dtype=np.float64),
                            np.array(live, dtype=bool))

    def _put_sorted(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Put distinct ``keys`` with ``values`` into the merged arrays, in one sorted merge."""
        order = np.argsort(keys, kind="stable")
        self._fold(keys[order], np.ones(len(keys), dtype=bool), values[order])

    def _fold(self, changed: np.ndarray, live: np.ndarray, values: np.ndarray | None) -> None:
        """``sorted_merge.fold`` of sorted distinct ``changed`` keys into the merged arrays
        (put where ``live``, with ``values``; removed elsewhere). The table lets go of its
        arrays first, so each old one is freed as its replacement is made."""
        arrays = [self._keys] if self._values is None else [self._keys, self._values]
        self._keys = _EMPTY_KEYS
        if self._values is not None:
            self._values = _EMPTY_VALUES
        sorted_merge.fold(arrays, changed, live, values)
        self._keys = arrays[0]
        if len(arrays) > 1:
            self._values = arrays[1]

    def discard(self, u: int, v: int) -> None:
        """Remove ``(u, v)`` if it is there."""
        self._change(u, v, None)

    def _change(self, u: int, v: int, value: float | None) -> None:
        """Record a change in the dict (no search: the merge sorts out what it replaces)."""
        row = self._delta.get(u)
        if row is None:
            row = self._delta[u] = {}
        if v not in row:
            self._changes += 1
        row[v] = value
        if self._changes + len(self._recent) > self._limit():
            self._merge()

    def _recent_range(self, u: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The recent arrays' keys of ``u``, their values and liveness."""
        lo, hi = np.searchsorted(self._recent, [u << 32, (u + 1) << 32])
        return self._recent[lo:hi], self._recent_values[lo:hi], self._recent_live[lo:hi]

    def seconds(self, u: int) -> list[int]:
        """Every ``v`` paired with ``u`` (ascending among the merged ones, then the recent)."""
        lo, hi = np.searchsorted(self._keys, [u << 32, (u + 1) << 32])
        keys = self._keys[lo:hi]
        if len(self._recent):
            changed, _, live = self._recent_range(u)
            keys = np.concatenate([keys[~setops.in_sorted(keys, changed)], changed[live]])
        found = (keys & LOW).tolist()
        row = self._delta.get(u)
        if not row:
            return found
        return [v for v in found if v not in row] + [v for v, x in row.items() if x is not None]

    def row(self, u: int) -> dict[int, float]:
        """Every ``v → value`` of one ``u`` (one search, no merge): a row read and replaced
        whole, as the neighbourhood stage's support table does."""
        lo, hi = np.searchsorted(self._keys, [u << 32, (u + 1) << 32])
        values = [0.0] * int(hi - lo) if self._values is None else self._values[lo:hi].tolist()
        found = dict(zip((self._keys[lo:hi] & LOW).tolist(), values, strict=True))
        if len(self._recent):
            changed, recent, live = self._recent_range(u)
            for v, value, there in zip((changed & LOW).tolist(), recent.tolist(),
                                       live.tolist(), strict=True):
                if not there:
                    found.pop(v, None)
                else:
                    found[v] = 0.0 if self._values is None else value
        for v, value in self._delta.get(u, {}).items():
            if value is None:
                found.pop(v, None)
            else:
                found[v] = value
        return found

    def rows(self, us: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every ``(v, value)`` of each of the distinct ``us``, as CSR: ``offsets`` (int64,
        ``len(us) + 1``), the ``v`` (ascending within a row) and their values (no merge: a
        batch reads the rows it changed; one search per ``u`` inside numpy). The pairs are
        sorted on one packed ``at << 32 | v`` key (distinct: the order ``lexsort((vs, at))``
        gave), stably — they come mostly in order, the merged part first, and a stable sort
        of a nearly sorted key is ≈ 70× faster than the two-key ``lexsort`` (decision 0070)."""
        at, vs, values = self._seconds(us, True)
        order = np.argsort(at << 32 | vs, kind="stable")
        offsets = np.zeros(len(us) + 1, dtype=np.int64)
        np.cumsum(np.bincount(at, minlength=len(us)), out=offsets[1:])
        return offsets, vs[order], values[order]

    def load(self, u: np.ndarray, v: np.ndarray, values: np.ndarray | None = None) -> None:
        """Fill an empty table from arrays of distinct pairs at once (restore)."""
        assert not len(self._keys) and not self._changes and not len(self._recent), \
            "load fills an empty table"
        keys = (u.astype(np.int64) << 32) | v.astype(np.int64)
        if self._values is None:  # keys alone: numpy's sort, ≈ 10× its argsort (restore)
            self._keys = np.sort(keys)
            return
        # distinct keys: any sort gives one order. Stable: a restore's pair rows come by
        # left in node order, so the keys run nearly sorted (≈ 6× the default's speed there)
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        given = np.zeros(len(keys)) if values is None else values
        self._values = np.asarray(given, dtype=np.float64)[order]

    def counts_of(self, us: np.ndarray) -> np.ndarray:
        """How many pairs each of ``us`` has: two binary searches in the merged keys, then
        ``±1`` per pending change of a ``u`` that adds or removes a pair — not the pairs
        themselves gathered and counted (a restore counts every sampled node's samplers,
        decision 0067; the shared-anchor heads count the fans of every node they look at, and
        gathering them was 3 % of a 100-insert batch, decision 0070)."""
        us = np.asarray(us, dtype=np.int64)
        counts = (np.searchsorted(self._keys, (us + 1) << 32)
                  - np.searchsorted(self._keys, us << 32)).astype(np.int64)
        if len(self._recent):  # a recent key adds where new and live, removes where merged
            lo = np.searchsorted(self._recent, us << 32)
            many = np.searchsorted(self._recent, (us + 1) << 32) - lo
            if many.any():
                at = np.repeat(lo - np.cumsum(many) + many, many) + np.arange(int(many.sum()))
                was = setops.in_sorted(self._recent[at], self._keys)
                step = self._recent_live[at].astype(np.int64) - was.astype(np.int64)
                counts += np.bincount(np.repeat(np.arange(len(us)), many), weights=step,
                                      minlength=len(us)).astype(np.int64)
        if self._delta:  # the dict, newer than both arrays: a dict read per ``u`` it has
            changed = np.fromiter(self._delta, dtype=np.int64, count=len(self._delta))
            for i in np.flatnonzero(setops.isin(us, changed)).tolist():
                u = int(us[i])
                for v, value in self._delta[u].items():
                    counts[i] += int(value is not None) - int(self._held_before_delta(u << 32 | v))
        return counts

    def _held_before_delta(self, key: int) -> bool:
        """Whether the arrays (recent over merged) hold ``key``, whatever the dict says."""
        if len(self._recent):
            i = int(np.searchsorted(self._recent, key))
            if i < len(self._recent) and self._recent[i] == key:
                return bool(self._recent_live[i])
        i = int(np.searchsorted(self._keys, key))
        return bool(i < len(self._keys) and self._keys[i] == key)

    def seconds_of(self, us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every pair of the ``us``, as two arrays ``(i, v)``: ``v`` is paired with ``us[i]``."""
        index, v, _ = self._seconds(us, False)
        return index, v

    def _seconds(self, us: np.ndarray, valued: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``seconds_of`` (one binary search per ``u`` inside numpy; the recent changes by dict
        per ``u`` that has some, found by one membership test: a dict read per ``u`` of every
        call was 2.1 s of a 79 s profile of five 100-insert batches, decision 0051) and, where
        ``valued``, each pair's value read where its key was found (``rows``, decision 0118)."""
        us = np.asarray(us, dtype=np.int64)
        lo = np.searchsorted(self._keys, us << 32)
        hi = np.searchsorted(self._keys, (us + 1) << 32)
        counts = hi - lo
        first = np.repeat(lo - np.cumsum(counts) + counts, counts)  # lo[i] - (i's first slot)
        index = np.repeat(np.arange(len(us)), counts)
        at = first + np.arange(len(index))
        v = self._keys[at] & LOW
        value = (self._values[at] if self._values is not None else np.zeros(len(at))) \
            if valued else None
        if len(self._recent):  # the array changes: replace the merged entries they name
            index, v, value = self._with_recent(us, index, v, value)
        if not self._delta:
            return index, v, value
        recent_i, recent_v, recent = [], [], []  # the recent changes of the ``us``, in order
        changed = np.fromiter(self._delta, dtype=np.int64, count=len(self._delta))
        hits = np.flatnonzero(setops.isin(us, changed))  # a dict read only where ``u`` has some
        for i, u in zip(hits.tolist(), us[hits].tolist(), strict=True):
            row = self._delta[u]
            if row:
                recent_i += [i] * len(row)
                recent_v += list(row)
                recent += list(row.values())
        if not recent_i:
            return index, v, value
        more_i, more_v = np.array(recent_i, dtype=np.int64), np.array(recent_v, dtype=np.int64)
        stale = setops.isin((index << 32) | v, (more_i << 32) | more_v)  # one test, not one a row
        added = np.array([x is not None for x in recent], dtype=bool)
        if valued:
            more = np.array([0.0 if x is None else x for x in recent], dtype=np.float64)
            value = np.concatenate([value[~stale], more[added]])
        return (np.concatenate([index[~stale], more_i[added]]),
                np.concatenate([v[~stale], more_v[added]]), value)

    def _with_recent(self, us: np.ndarray, index: np.ndarray, v: np.ndarray,
                     value: np.ndarray | None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``_seconds``' merged pairs ``(index, v, value)`` with the recent arrays applied."""
        lo = np.searchsorted(self._recent, us << 32)
        counts = np.searchsorted(self._recent, (us + 1) << 32) - lo
        first = np.repeat(lo - np.cumsum(counts) + counts, counts)
        at = first + np.arange(int(counts.sum()))
        more_i, more_v = np.repeat(np.arange(len(us)), counts), self._recent[at] & LOW
        stale = setops.in_sorted(us[index] << 32 | v, self._recent)
        live = self._recent_live[at]
        if value is not None:
            more = np.zeros(len(at)) if self._values is None else self._recent_values[at]
            value = np.concatenate([value[~stale], more[live]])
        return (np.concatenate([index[~stale], more_i[live]]),
                np.concatenate([v[~stale], more_v[live]]), value)

    def change_many(self, us: np.ndarray, vs: np.ndarray, present: bool) -> None:
        """Put (``present``) or discard every ``(us[i], vs[i])`` (a set table's batch write).

        A change too large for the dict (a bulk refresh or a restore: one entry per pair of the
        whole graph) goes into the arrays at once, by sorting, not through the dict."""
        us, vs = np.asarray(us, dtype=np.int64), np.asarray(vs, dtype=np.int64)
        if len(us) > self._limit():
            self._merge()
            self._apply(setops.unique((us << 32) | vs), present)
            return
        self._change_arrays((us << 32) | vs, np.zeros(len(us)), np.full(len(us), present))

    def _apply(self, keys: np.ndarray, present: bool) -> None:
        """Put (value ``0.0``) or remove sorted distinct ``keys`` in the merged arrays."""
        self._fold(keys, np.full(len(keys), present), np.zeros(len(keys)))

    def first_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Every ``u`` with a pair and how many pairs it has (ascending ``u``)."""
        self._merge()
        return np.unique(self._keys >> 32, return_counts=True)

    def firsts(self) -> set[int]:
        """Every ``u`` with at least one pair."""
        if len(self._recent):
            self._merge()
        out = set(setops.unique(self._keys >> 32).tolist())
        for u, row in self._delta.items():
            if any(x is not None for x in row.values()):
                out.add(u)
            elif u in out and not self.seconds(u):
                out.discard(u)
        return out

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair as ``(us, vs, values)``, in key order (a whole-table pass, not a loop)."""
        self._merge()
        values = np.zeros(len(self._keys)) if self._values is None else self._values
        return self._keys >> 32, self._keys & LOW, values

    def items(self) -> Iterator[tuple[int, int, float]]:
        """Every ``(u, v, value)``, in key order."""
        self._merge()
        values = self._values.tolist() if self._values is not None else [0.0] * len(self._keys)
        for key, value in zip(self._keys.tolist(), values, strict=True):
            yield key >> 32, key & LOW, value

    def _merge(self) -> None:
        """Fold the recent changes into the sorted arrays."""
        if self._delta:
            self._fold_dict()  # (which may merge: then nothing is left here)
        if not len(self._recent):
            return
        self._fold(self._recent, self._recent_live, self._recent_values)
        self._recent, self._recent_values, self._recent_live = \
            _EMPTY_KEYS, _EMPTY_VALUES, _EMPTY_LIVE

    def nbytes(self) -> int:
        """Bytes held: the arrays and the unmerged changes."""
        delta = sys.getsizeof(self._delta) + sum(sys.getsizeof(r) + 56 * len(r)
                                                 for r in self._delta.values())
        values = 0 if self._values is None else self._values.nbytes
        recent = self._recent.nbytes + self._recent_values.nbytes + self._recent_live.nbytes
        return int(self._keys.nbytes + values + delta + recent)
