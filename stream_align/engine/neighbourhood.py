"""Neighbourhood matches: unnamed entities matched by the relations to their aligned neighbours.

A new entity of a growing graph (ContEA's batches) arrives unnamed with one to three triples. The
model scores it from structure alone, and those scores do not tell its right partner from the
others (decision 0026: right and wrong pairs score alike; half the right partners are not even
among the top-10). Its few triples say more when read literally: if ``a —r→ x`` and ``x`` is
aligned to ``x'``, then ``a``'s partner is likely a neighbour of ``x'`` joined to it by the
relation that corresponds to ``r``, in the same direction. Decision 0025 measures it.

The rule, a function of the graphs, the anchors (the model's named matches and the seed links)
and the corresponding relations:

1. *Corresponding relations* — from the anchors alone: ``(r, r')`` counts every anchored triple
   ``(h, r, t)`` whose image ``(h', r', t')`` exists; ``r'`` corresponds to ``r`` where it is
   ``r``'s most frequent image or ``r`` is ``r'``'s (no tuned constant). Learnt once from the
   first round's anchors (the streaming stage freezes them in its state, decision 0035).
2. *Support* of a pair ``(a, b)`` of unanchored, unnamed entities (a named entity is left to
   the model: its name is the stronger signal, and the unnamed one would compete): the number of
   anchor pairs ``(x, x')`` with ``a`` joined to ``x`` and ``b`` to ``x'`` by corresponding
   relations in the same direction. Anchors with more than ``max_fanout`` neighbours on either
   side are skipped (a hub's neighbours say nothing about one of them; this also bounds the
   work per anchor by ``max_fanout²``). :func:`support_row` is the one definition, read from
   either side; :class:`Support` holds the table both ways.
3. A pair is matched where it is the unique best of both its entities by support.
4. ``rounds`` > 1: round ``k``'s anchors are round ``k - 1``'s anchors and matches
   (self-training); each round is a function of the one before, so a streamed stage keeps
   each as a layer (``neighbourhood_stage``) and equals this batch computation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol

import numpy as np

from stream_align.graph import Graph

Edge = tuple[int, int, int]  # (neighbour, relation, +1 out / -1 in)
Relations = Collection[tuple[int, int]]  # (relation of A, relation of B)


class Adjacency(Protocol):
    """An entity's triples as ``(neighbour, relation, direction)``, and how many."""

    def __call__(self, node: int) -> Sequence[Edge]: ...

    def degree(self, node: int) -> int: ...


class _Lists:
    """A static graph's adjacency (the batch aligner's). A triple listed twice is one fact, as
    in the engine's mirror (ContEA's files repeat about 1.5 % of theirs)."""

    def __init__(self, graph: Graph) -> None:
        self._out: dict[int, list[Edge]] = defaultdict(list)
        for h, r, t in np.unique(graph.triples.reshape(-1, 3), axis=0).tolist():
            self._out[h].append((t, r, 1))
            self._out[t].append((h, r, -1))

    def __call__(self, node: int) -> Sequence[Edge]:
        return self._out.get(node, ())

    def degree(self, node: int) -> int:
        return len(self._out.get(node, ()))


def edges(graph: Graph) -> Adjacency:
    """Each entity's triples as ``(neighbour, relation, direction)``."""
    return _Lists(graph)


def corresponding_relations(adj_a: Adjacency, adj_b: Adjacency, anchors: Mapping[int, int]
                            ) -> set[tuple[int, int]]:
    """``(r, r')`` where ``r'`` is ``r``'s most frequent anchored image, or ``r`` is ``r'``'s."""
    co: Counter[tuple[int, int]] = Counter()
    for a, b in anchors.items():
        images: dict[tuple[int, int], list[int]] = defaultdict(list)
        for y, r2, d in adj_b(b):
            images[y, d].append(r2)
        for x, r, d in adj_a(a):
            if x in anchors:
                for r2 in images.get((anchors[x], d), ()):
                    co[r, r2] += 1
    best_a: dict[int, tuple[int, int]] = {}
    best_b: dict[int, tuple[int, int]] = {}
    for (r, r2), n in sorted(co.items()):
        best_a[r] = max(best_a.get(r, (0, -1)), (n, r2))
        best_b[r2] = max(best_b.get(r2, (0, -1)), (n, r))
    return {(r, r2) for r, (_, r2) in best_a.items()} | {(r, r2) for r2, (_, r) in best_b.items()}


def support_row(adj: tuple[Adjacency, Adjacency], partner: Mapping[int, int],
                eligible: Callable[[int], bool], relations: Relations, max_fanout: int,
                node: int) -> dict[int, int]:
    """Support of every pair of ``node`` (graph ``adj[0]``) with the other graph's entities:
    its edges to anchors ``partner`` that are no hub, joined to the partner's ``eligible``
    neighbours by a corresponding relation (``relations`` as ``(mine, theirs)``) in the same
    direction. The caller checks that ``node`` itself is eligible. Cost: ``deg(node)·fanout``."""
    counts: dict[int, int] = {}
    for x, r, d in adj[0](node):
        x2 = partner.get(x)
        if x2 is None or adj[0].degree(x) > max_fanout or adj[1].degree(x2) > max_fanout:
            continue
        for y, r2, d2 in adj[1](x2):  # x2's edge to y, seen from x2: from y it is -d2
            if d2 == -d and (r, r2) in relations and eligible(y):
                counts[y] = counts.get(y, 0) + 1
    return counts


def _best(row: Mapping[int, int]) -> int | None:
    """The strict best entry of a row (a tie has none)."""
    top, second, who = 0, 0, None
    for other, n in row.items():
        if n > top:
            top, second, who = n, top, other
        elif n > second:
            second = n
    return who if top > second else None


class Support:
    """The support table, by left (``rows``) and by right (``cols``); zero entries are absent.

    A row or column is replaced whole (``set_row``/``set_col``) by its value computed from the
    current graphs, so a table kept by replacing every row or column that can have changed
    equals the table computed from scratch.
    """

    def __init__(self) -> None:
        self.rows: dict[int, dict[int, int]] = {}
        self.cols: dict[int, dict[int, int]] = {}

    def set_row(self, a: int, counts: dict[int, int]) -> set[int]:
        """Replace ``a``'s row; return the right entities whose column changed."""
        return _replace(self.rows, self.cols, a, counts)

    def set_col(self, b: int, counts: dict[int, int]) -> set[int]:
        """Replace ``b``'s column; return the left entities whose row changed."""
        return _replace(self.cols, self.rows, b, counts)

    def mutual(self, a: int) -> int | None:
        """``a``'s partner where the pair is the unique best of both its entities."""
        b = _best(self.rows.get(a, {}))
        return b if b is not None and _best(self.cols[b]) == a else None

    def best_left(self, b: int) -> int | None:
        """``b``'s unique best left entity, if any."""
        return _best(self.cols.get(b, {}))


def _replace(mine: dict[int, dict[int, int]], theirs: dict[int, dict[int, int]], key: int,
             counts: dict[int, int]) -> set[int]:
    old = mine.pop(key, {})
    changed = {k for k in old.keys() | counts.keys() if old.get(k) != counts.get(k)}
    for other in old.keys() - counts.keys():
        row = theirs[other]
        del row[key]
        if not row:
            del theirs[other]
    for other, n in counts.items():
        theirs.setdefault(other, {})[key] = n
    if counts:
        mine[key] = counts
    return changed


def unique_mutual_best(support: Support) -> list[tuple[int, int]]:
    """Pairs that are the strict best of both their entities (ties match nothing)."""
    return sorted((a, b) for a in support.rows if (b := support.mutual(a)) is not None)


def neighbourhood_matches(a: Graph, b: Graph, anchors: np.ndarray, rounds: int,
                          max_fanout: int = 64, relations: Relations | None = None
                          ) -> np.ndarray:
    """Pairs of unnamed entities matched by the neighbourhood rule (module docstring), as
    ``int64 (n, 2)``; ``anchors`` (``(m, 2)``, one-to-one) are not repeated in the result.
    ``relations`` (default: learnt from ``anchors``) are ``(relation of a, relation of b)``."""
    adj = edges(a), edges(b)
    unnamed = ({i for i, n in enumerate(a.names) if not n},
               {i for i, n in enumerate(b.names) if not n})
    current = dict(anchors.tolist())
    if relations is None:
        relations = corresponding_relations(adj[0], adj[1], current)
    found: list[tuple[int, int]] = []
    for _ in range(rounds):
        free = unnamed[1] - set(current.values())
        lefts = {y for x in current for y, _, _ in adj[0](x)
                 if y in unnamed[0] and y not in current}
        support = Support()
        for node in sorted(lefts):
            support.set_row(node, support_row(adj, current, free.__contains__, relations,
                                              max_fanout, node))
        new = unique_mutual_best(support)
        if not new:
            break
        current.update(new)
        found += new
    return np.asarray(found, dtype=np.int64).reshape(-1, 2)


def rematch_unnamed(a: Graph, b: Graph, picked: np.ndarray, seeds: np.ndarray, rounds: int,
                    max_fanout: int = 64, relations: Relations | None = None) -> np.ndarray:
    """A one-to-one alignment ``picked`` (``(n, 2)``) with its pairs that have an unnamed entity
    replaced by :func:`neighbourhood_matches`, anchored on its named pairs and the ``seeds``
    (labelled links; a picked pair that contradicts one is no anchor)."""
    unnamed_a = np.array([not n for n in a.names], dtype=bool)
    unnamed_b = np.array([not n for n in b.names], dtype=bool)
    named = picked[~(unnamed_a[picked[:, 0]] | unnamed_b[picked[:, 1]])]
    agree = ~np.isin(named[:, 0], seeds[:, 0]) & ~np.isin(named[:, 1], seeds[:, 1])
    anchors = np.concatenate([seeds.reshape(-1, 2), named[agree]])
    found = neighbourhood_matches(a, b, anchors, rounds, max_fanout, relations)
    return np.concatenate([named, found]).astype(np.int64)
