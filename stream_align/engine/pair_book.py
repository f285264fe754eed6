"""The scored pairs, readable from both sides, in two :class:`PairTable` arrays.

The book stores node ids (the mirrors' own ``key → index``, stable for a process: a deleted
entity keeps its slot) so a pair costs about 24 bytes (its score keyed ``left << 32 | right``
and its reverse key), where a dict keyed by key tuples with a set of keys per entity and side
cost ≈ 2.3 KB per entity (the 40K-per-side breakdown in docs/BENCHMARKS.md). Pair maintenance
and decisions read it by node (``node_scores``, ``score``, ``partners``: decision 0047); the
key reads return what the dict-based book returned: ``scores`` is a read-only mapping
``(left, right) → score``, ``rights.get(left)`` / ``lefts.get(right)`` the keys paired with
one entity.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

import numpy as np

from stream_align import setops
from stream_align.engine import packed
from stream_align.engine.node_set import NodeSet
from stream_align.engine.pair_table import PairTable

Pair = tuple[str, str]


class Keyed(Protocol):
    """What the book needs of a graph mirror: its key ↔ node vocabulary."""

    keys: list[str]
    index: dict[str, int]


class _Vocabulary:
    """Keys numbered as first seen: a book used without graph mirrors (tools, unit tests)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, key: str) -> int:
        if key not in self.index:
            self.index[key] = len(self.keys)
            self.keys.append(key)
        return self.index[key]


def _node(graph: Keyed, key: str) -> int:
    """``key``'s node (a mirror's entity exists before its pairs; a vocabulary numbers it)."""
    return graph.add(key) if isinstance(graph, _Vocabulary) else graph.index[key]


class _Scores(Mapping[Pair, float]):
    def __init__(self, table: PairTable, left: Keyed, right: Keyed) -> None:
        self._table, self._left, self._right = table, left, right

    def get(self, pair: Pair, default: float | None = None) -> float | None:  # type: ignore[override]
        u, v = self._left.index.get(pair[0]), self._right.index.get(pair[1])
        return default if u is None or v is None else self._table.get(u, v, default)

    def get_many(self, pairs: list[Pair]) -> np.ndarray:
        """The scores of ``pairs`` (``NaN``: not scored), one vectorised lookup."""
        left, right = self._left.index, self._right.index
        u = np.fromiter((left.get(a, -1) for a, _ in pairs), np.int64, len(pairs))
        v = np.fromiter((right.get(b, -1) for _, b in pairs), np.int64, len(pairs))
        known = (u >= 0) & (v >= 0)
        out = np.full(len(pairs), np.nan)
        out[known] = self._table.get_many(u[known], v[known])
        return out

    def __getitem__(self, pair: Pair) -> float:
        score = self.get(pair)
        if score is None:
            raise KeyError(pair)
        return score

    def __contains__(self, pair: object) -> bool:
        return isinstance(pair, tuple) and self.get(pair) is not None  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Pair]:
        left, right = self._left.keys, self._right.keys
        return ((left[u], right[v]) for u, v, _ in self._table.items())

    def __len__(self) -> int:
        return len(self._table)


class _Partners:
    """One side's view: ``get(key)`` the other side's keys paired with it, ``keys()`` those
    with any pair."""

    def __init__(self, table: PairTable, mine: Keyed, other: Keyed) -> None:
        self._table, self._mine, self._other = table, mine, other

    def get(self, key: str, default: tuple = ()) -> list[str] | tuple:
        u = self._mine.index.get(key)
        found = [] if u is None else self._table.seconds(u)
        return [self._other.keys[v] for v in found] if found else default

    def keys(self) -> set[str]:
        return {self._mine.keys[u] for u in self._table.firsts()}


class PairBook:
    """Scored pairs of the graphs ``left`` and ``right`` (own key vocabularies if not given)."""

    def __init__(self, left: Keyed | None = None, right: Keyed | None = None) -> None:
        left = _Vocabulary() if left is None else left
        right = _Vocabulary() if right is None else right
        self._by_left, self._by_right = PairTable(), PairTable(values=False)
        self.scores = _Scores(self._by_left, left, right)
        self.rights = _Partners(self._by_left, left, right)  # left → rights
        self.lefts = _Partners(self._by_right, right, left)  # right → lefts
        self._left, self._right = left, right
        self.changed = NodeSet()  # left nodes whose pairs changed (to store)

    def node_of(self, side: int, key: str) -> int | None:
        """``key``'s node on ``side`` (0: left; ``None``: a mirror without that key; a book's own
        vocabulary numbers a new key)."""
        graph = self._left if side == 0 else self._right
        return graph.add(key) if isinstance(graph, _Vocabulary) else graph.index.get(key)

    def pack(self, pairs: Iterable[Pair]) -> np.ndarray:
        """The pairs of keys whose entities both have nodes, as sorted distinct ``left << 32 |
        right`` (unknown keys are left out: they have no scored pair)."""
        left, right = self._left.index, self._right.index
        found = [(u, v) for a, b in pairs
                 if (u := left.get(a)) is not None and (v := right.get(b)) is not None]
        if not found:
            return np.zeros(0, dtype=np.int64)
        nodes = np.array(found, dtype=np.int64)
        return setops.unique(packed.join(nodes[:, 0], nodes[:, 1]))

    def score(self, left: int, right: int) -> float | None:
        """The score of the pair of nodes ``(left, right)`` (``None``: not scored)."""
        return self._by_left.get(left, right)

    def partners(self, side: int, node: int) -> list[int]:
        """The other side's nodes paired with ``node`` of ``side`` (0: left)."""
        return (self._by_left if side == 0 else self._by_right).seconds(node)

    def scores_of(self, side: int, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every scored pair of the distinct ``nodes`` of ``side`` (0: left) as ``(i, score)``
        with ``nodes[i]`` the pair's entity, ``i`` ascending: one search per node inside numpy
        and one score read for all, not ``partners`` and a ``score`` per pair."""
        table = self._by_left if side == 0 else self._by_right
        at, partners = table.seconds_of(nodes)
        mine = np.asarray(nodes, dtype=np.int64)[at]
        scores = (self.node_scores(mine, partners) if side == 0
                  else self.node_scores(partners, mine))
        order = np.argsort(at, kind="stable")
        return at[order], scores[order]

    def entities(self) -> tuple[set[int], set[int]]:
        """The left and the right nodes with at least one scored pair."""
        return self._by_left.firsts(), self._by_right.firsts()

    def node_scores(self, lefts: np.ndarray, rights: np.ndarray) -> np.ndarray:
        """The scores of the pairs ``(lefts[i], rights[i])`` of node ids (``NaN``: not
        scored), one lookup."""
        return self._by_left.get_many(lefts, rights)

    def pairs_of(self, lefts: np.ndarray, rights: np.ndarray) -> np.ndarray:
        """Every scored pair of the left nodes ``lefts`` or the right nodes ``rights``, as
        sorted distinct keys ``left << 32 | right`` (one search per node inside numpy)."""
        at, right = self._by_left.seconds_of(lefts)
        at_r, left = self._by_right.seconds_of(rights)
        return setops.union1d(packed.join(np.asarray(lefts, dtype=np.int64)[at], right),
                              packed.join(left, np.asarray(rights, dtype=np.int64)[at_r]))

    def set(self, left: str, right: str, score: float) -> None:
        u, v = _node(self._left, left), _node(self._right, right)
        self._by_left.put(u, v, score)
        self._by_right.put(v, u)
        self.changed.update((u,))

    def set_nodes(self, lefts: np.ndarray, rights: np.ndarray, scores: np.ndarray) -> None:
        """``set`` of distinct pairs named by node ids, at once (a refresh's new scores)."""
        self._by_left.put_many(lefts, rights, scores)
        self._by_right.put_many(rights, lefts)
        self.changed.update(lefts)

    def drop(self, left: str, right: str) -> None:
        u, v = self._left.index.get(left), self._right.index.get(right)
        if u is not None and v is not None:
            self.drop_nodes(np.array([u]), np.array([v]))

    def drop_nodes(self, lefts: np.ndarray, rights: np.ndarray) -> None:
        """Remove the pairs ``(lefts[i], rights[i])`` of node ids (absent ones: a no-op)."""
        if not len(lefts):
            return
        self._by_left.discard_many(lefts, rights)
        self._by_right.discard_many(rights, lefts)
        self.changed.update(lefts)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every scored pair as node ids ``(lefts, rights)`` and its score, by pair."""
        return self._by_left.arrays()

    def size_bound(self) -> int:
        """At least the number of scored pairs, read without merging recent changes."""
        return self._by_left.size_bound()

    @property
    def vocabularies(self) -> tuple[Keyed, Keyed]:
        """The left and right ``key ↔ node`` vocabularies the book's node ids refer to."""
        return self._left, self._right

    def take_changed(self) -> list[int]:
        """Left nodes whose pairs changed since the last call, ascending."""
        changed, self.changed = self.changed.array().tolist(), NodeSet()
        return changed

    def rows(self, lefts: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The right nodes paired with each of the ascending distinct ``lefts`` and their
        scores, as CSR (``PairTable.rows``: the stored form of the changed lefts' pairs)."""
        return self._by_left.rows(np.asarray(lefts, dtype=np.int64))

    def load(self, lefts: np.ndarray, rights: np.ndarray, scores: np.ndarray) -> None:
        """Fill an empty book from stored pairs (node ids) at once (restore)."""
        self._by_left.load(lefts, rights, scores)
        self._by_right.load(rights, lefts)
