"""Labels and the pairs they force: a function of the label *table*, never of replay order.

Rules (``kg.labels``; README "Event contracts"):

1. One label per pair: a later label for the same pair replaces the earlier one. Labels are
   keyed by the left entity, so every label of a pair travels in one partition and "later" is
   that partition's order, which a restart resumes exactly (offsets commit with the state).
2. An entity's *governing* label is its MATCH label with the latest ``event_time``, ties broken
   by the smallest key of the other entity. Other MATCH labels of the entity are dormant: they
   govern again if the newer one is replaced (a reviewer's NON_MATCH on it).
3. A pair is *forced* when it governs both its entities; it outranks every score. An entity
   governed by a MATCH label sits out every pair but that one (``Decider._weight``).
   A NON_MATCH label removes its pair.

Why not "the last MATCH applied wins": with many-to-many seed labels (entity resolution
training pairs) that depends on the order labels were applied, and labels of one right entity
arrive on different partitions, so neither a restart (which replays the stored table in key
order) nor a second uninterrupted run (another interleaving of partitions) could reproduce it.

Proof of restart equality: the governing map is computed from ``{pair: (value, event_time)}``
alone (rule 2 is a total order on an entity's MATCH labels), :meth:`LabelBook.set` keeps it
equal to that function after every label (it recomputes the two entities it touches), and the
table is stored in the batch's transaction (``LabelStore``). Feeding the stored rows in any
order therefore rebuilds the same ``labels``, ``forced_left`` and ``forced_right``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from stream_align import setops
from stream_align.engine import packed
from stream_align.engine.rematch import SortedMap
from stream_align.events.contracts import LabelValue

Pair = tuple[str, str]


class LabelBook:
    """Current labels (``labels``) and the governing MATCH of each entity (``forced_*``).

    Memory: one dict entry per labelled pair plus one per entity with a MATCH label; a label
    costs O(number of MATCH labels of its two entities) — a handful even for hub seeds.
    """

    def __init__(self) -> None:
        self.labels: dict[Pair, LabelValue] = {}
        self._rights: dict[str, dict[str, int]] = {}  # left → right → time of its MATCH
        self._lefts: dict[str, dict[str, int]] = {}  # right → left → time of its MATCH
        self.forced_left: dict[str, str] = {}  # left → right of its governing MATCH
        self.forced_right: dict[str, str] = {}  # right → left of its governing MATCH

    def match_pairs(self, side: int, key: str) -> list[Pair]:
        """Every MATCH-labelled pair of entity ``key`` of graph ``side`` (0 = left)."""
        if side == 0:
            return [(key, right) for right in self._rights.get(key, ())]
        return [(left, key) for left in self._lefts.get(key, ())]

    def all_match_pairs(self) -> list[Pair]:
        """Every MATCH-labelled pair."""
        return [(left, right) for left, rights in self._rights.items() for right in rights]

    def set(self, left: str, right: str, value: LabelValue, event_time: int) -> set[Pair]:
        """Record a label (replacing the pair's earlier one); return every pair whose standing
        changed: the pair itself and the governing MATCH pairs its entities had and have."""
        if self.labels.get((left, right)) is LabelValue.MATCH:
            _discard(self._rights, left, right)
            _discard(self._lefts, right, left)
        self.labels[left, right] = value
        if value is LabelValue.MATCH:
            self._rights.setdefault(left, {})[right] = event_time
            self._lefts.setdefault(right, {})[left] = event_time
        before = self.forced_left.get(left), self.forced_right.get(right)
        _govern(self._rights, self.forced_left, left)
        _govern(self._lefts, self.forced_right, right)
        after = self.forced_left.get(left), self.forced_right.get(right)
        changed = {(left, right)}
        changed.update((left, r) for r in (before[0], after[0]) if r is not None)
        changed.update((a, right) for a in (before[1], after[1]) if a is not None)
        return changed


def _govern(index: dict[str, dict[str, int]], forced: dict[str, str], key: str) -> None:
    """Set ``forced[key]`` to the governing MATCH among ``index[key]`` (rule 2), or drop it."""
    matches = index.get(key)
    if matches:
        forced[key] = min(matches.items(), key=lambda item: (-item[1], item[0]))[0]
    else:
        forced.pop(key, None)


def _discard(index: dict[str, dict[str, int]], key: str, other: str) -> None:
    others = index.get(key)
    if others is not None:
        others.pop(other, None)
        if not others:
            del index[key]


@dataclass(frozen=True)
class LabelNodes:
    """The label book by node: each entity's governing MATCH partner (-2: the partner's key
    has no node yet), the governed left nodes (sorted), the NON_MATCH pairs and every MATCH
    pair, governing or dormant (packed, sorted). Read per pair as arrays, where the book's
    key strings cost a lookup a pair."""

    forced_left: dict[int, int]
    forced_right: dict[int, int]
    governed: np.ndarray
    refused: np.ndarray
    matched: np.ndarray
    unresolved: bool  # some label key had no node

    @cached_property
    def forced(self) -> tuple[SortedMap, SortedMap]:
        """``forced_left`` and ``forced_right`` as sorted arrays, made once per label set:
        the repair asks for the forced partners of every pair it weighs, and 4,500 seed
        labels made that a dict read a node or a sort of the labels a call (decision 0070)."""
        return SortedMap.of(self.forced_left), SortedMap.of(self.forced_right)

    @classmethod
    def of(cls, book: LabelBook, left: Mapping[str, int], right: Mapping[str, int]
           ) -> LabelNodes:
        unresolved = False

        def by_node(forced: dict[str, str], mine: Mapping[str, int],
                    other: Mapping[str, int]) -> dict[int, int]:
            nonlocal unresolved
            out = {}
            for a, b in forced.items():
                if (u := mine.get(a)) is None:
                    unresolved = True
                    continue
                out[u] = other.get(b, -2)
                unresolved |= out[u] == -2
            return out

        forced_left = by_node(book.forced_left, left, right)
        forced_right = by_node(book.forced_right, right, left)
        pairs: dict[LabelValue, list[tuple[int, int]]] = {v: [] for v in LabelValue}
        for (a, b), value in book.labels.items():
            if a in left and b in right:
                pairs[value].append((left[a], right[b]))
            else:
                unresolved = True
        refused, matched = (np.array(pairs[v], dtype=np.int64).reshape(-1, 2)
                            for v in (LabelValue.NON_MATCH, LabelValue.MATCH))
        return cls(forced_left, forced_right, np.array(sorted(forced_left), dtype=np.int64),
                   setops.unique(packed.join(refused[:, 0], refused[:, 1])),
                   setops.unique(packed.join(matched[:, 0], matched[:, 1])), unresolved)
