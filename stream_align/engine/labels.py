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
