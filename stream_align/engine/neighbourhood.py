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
   the model: its name is the stronger signal, and the unnamed one would compete — unless
   ``named``: then a named entity that no anchor holds is eligible too, its name having found
   no partner, so its structure is what is left; decision 0057): the number of
   anchor pairs ``(x, x')`` with ``a`` joined to ``x`` and ``b`` to ``x'`` by corresponding
   relations in the same direction. *Hubs*: an anchor with more than ``fanout`` neighbours on
   either side supports a pair only through a *relation group* — the anchor's neighbours joined
   to it by one relation in one direction — of at most ``group_fanout`` on each side (a
   country's 3,000 residents say nothing about one of them, its 4 neighbouring countries do;
   decision 0040: hub-only entities were 13 % of batch5's missed new links). Both bounds keep
   the work per anchored edge at ``fanout`` or ``group_fanout`` per corresponding relation,
   whatever the hub's degree. :func:`supporting` is the one definition, read from either side
   (:func:`support_row` counts it, the stage's evidence lists it); :class:`Support` holds the
   table both ways.
3. A pair is matched where it is the unique best of both its entities by support. A tie at
   the top of a row or column goes to the one tied entity, if exactly one, whose pair the model
   scores at or above the match threshold (``prefer``: the model would match it on its own):
   the support says where to look, the model which one (decision 0040; without it a tie
   matches nothing — a quarter of batch5's missed new links). With the hubness correction
   (:func:`hub_corrected`, decision 0057) the pair must also score above the two entities'
   typical candidate scores: an unnamed entity that scores high with everything is a hub.
4. ``rounds`` > 1: round ``k``'s anchors are round ``k - 1``'s anchors and matches
   (self-training); each round is a function of the one before, so a streamed stage keeps
   each as a layer (``neighbourhood_stage``) and equals this batch computation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from itertools import pairwise
from typing import NamedTuple, Protocol

import numpy as np

from stream_align import setops
from stream_align.engine.pair_table import PairTable
from stream_align.graph import Graph

Edge = tuple[int, int, int]  # (neighbour, relation, +1 out / -1 in)
Relations = Collection[tuple[int, int]]  # (relation of A, relation of B)
Images = Mapping[int, Collection[int]]  # a relation → the other graph's corresponding ones
Path = tuple[int, int, int, int, int, int]  # (anchor, its partner, r, r', direction, other end)
Prefer = Callable[[int, int], bool]  # (left, right): the model alone would match the pair
PreferMany = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``Prefer`` of each pair ``(lefts[i], rights[i])`` at once (bool per pair): a rebuild's ties
(``neighbourhood_bulk``)."""


def never(left: int, right: int) -> bool:
    """No pair preferred: a tie matches nothing."""
    return False


def each(prefer: Prefer) -> PreferMany:
    """``prefer`` asked of one pair after another (a caller without a batch read)."""
    def many(lefts: np.ndarray, rights: np.ndarray) -> np.ndarray:
        return np.fromiter(map(prefer, lefts.tolist(), rights.tolist()), dtype=bool,
                           count=len(lefts))
    return many


class Fanout(NamedTuple):
    """The hub bounds: an anchor's neighbours (either side), a relation group's."""

    node: int = 64
    group: int = 16


HUBS = Fanout()
"""The default bounds (64 neighbours, groups of 16)."""


class Adjacency(Protocol):
    """An entity's triples as ``(neighbour, relation, direction)``, how many, and one relation
    group's neighbours (joined by ``relation`` in ``direction``, seen from ``node``)."""

    def __call__(self, node: int) -> Sequence[Edge]: ...

    def degree(self, node: int) -> int: ...

    def group(self, node: int, relation: int, direction: int) -> Sequence[int]: ...

    def group_size(self, node: int, relation: int, direction: int) -> int: ...


class _Lists:
    """A static graph's adjacency (the batch aligner's). A triple listed twice is one fact, as
    in the engine's mirror (ContEA's files repeat about 1.5 % of theirs)."""

    def __init__(self, graph: Graph) -> None:
        self._out: dict[int, list[Edge]] = defaultdict(list)
        self._groups: dict[tuple[int, int, int], list[int]] = defaultdict(list)
        for h, r, t in np.unique(graph.triples.reshape(-1, 3), axis=0).tolist():
            self._out[h].append((t, r, 1))
            self._out[t].append((h, r, -1))
            self._groups[h, r, 1].append(t)
            self._groups[t, r, -1].append(h)

    def __call__(self, node: int) -> Sequence[Edge]:
        return self._out.get(node, ())

    def degree(self, node: int) -> int:
        return len(self._out.get(node, ()))

    def group(self, node: int, relation: int, direction: int) -> Sequence[int]:
        return self._groups.get((node, relation, direction), ())

    def group_size(self, node: int, relation: int, direction: int) -> int:
        return len(self.group(node, relation, direction))


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


def images(relations: Relations, flip: bool = False) -> dict[int, frozenset[int]]:
    """``relations`` as a map from a relation of A (of B where ``flip``) to its images."""
    found: dict[int, set[int]] = defaultdict(set)
    for r, r2 in relations:
        found[r2 if flip else r].add(r if flip else r2)
    return {r: frozenset(theirs) for r, theirs in found.items()}


def supporting(adj: tuple[Adjacency, Adjacency], partner: Mapping[int, int], relations: Images,
               fanout: Fanout, node: int) -> Iterator[Path]:
    """Every path that supports a pair of ``node`` (graph ``adj[0]``): its edge ``(r, d)`` to
    an anchor ``x`` (partner ``x2``), and ``x2``'s edge to ``y`` by an image ``r'`` of ``r``
    in the same direction — through any such edge where neither anchor is a hub (``fanout.
    node``), else only where both relation groups (``r`` at ``x``, ``r'`` at ``x2``) are within
    ``fanout.group``. Cost: ``deg(node)`` times ``fanout.node`` or the group bound."""
    for x, r, d in adj[0](node):
        x2 = partner.get(x)
        theirs = None if x2 is None else relations.get(r)
        if not theirs:
            continue
        if adj[0].degree(x) <= fanout.node and adj[1].degree(x2) <= fanout.node:
            for y, r2, d2 in adj[1](x2):  # x2's edge to y, seen from x2: from y it is -d2
                if d2 == -d and r2 in theirs:
                    yield x, x2, r, r2, d, y
        elif adj[0].group_size(x, r, -d) <= fanout.group:
            for r2 in theirs:
                if adj[1].group_size(x2, r2, -d) <= fanout.group:
                    for y in adj[1].group(x2, r2, -d):
                        yield x, x2, r, r2, d, y


def support_row(adj: tuple[Adjacency, Adjacency], partner: Mapping[int, int],
                eligible: Callable[[int], bool], relations: Images, fanout: Fanout,
                node: int) -> dict[int, int]:
    """Support of every pair of ``node`` with the other graph's ``eligible`` entities: how
    many paths (:func:`supporting`) reach each. The caller checks that ``node`` itself is
    eligible."""
    counts: dict[int, int] = {}
    for *_, y in supporting(adj, partner, relations, fanout, node):
        if eligible(y):
            counts[y] = counts.get(y, 0) + 1
    return counts


def _best(row: Mapping[int, int], prefer: Callable[[int], bool]) -> int | None:
    """The strict best entry of a row; in a tie, the one tied entry ``prefer`` marks, if one."""
    top, second, who = 0, 0, None
    for other, n in row.items():
        if n > top:
            top, second, who = n, top, other
        elif n > second:
            second = n
    if top > second or not top:
        return who
    tied = [other for other, n in row.items() if n == top and prefer(other)]
    return tied[0] if len(tied) == 1 else None


class Support:
    """The support table, by left (``rows``) and by right (``cols``); zero entries are absent.

    Two packed pair tables (``PairTable``: a pair is one ``int64`` key and its count, 16 bytes
    each way), not a dict per supported entity: 536 bytes per supported entity and 208 per
    pair as dicts of dicts at ContEA batch5, ≈ 32 per pair here (decision 0040). A row or
    column is replaced whole (``set_row``/``set_col``) by its value computed from the current
    graphs, so a table kept by replacing every row or column that can have changed equals the
    table computed from scratch.
    """

    def __init__(self, prefer: Prefer = never) -> None:
        self.prefer = prefer  # breaks ties (module docstring, 3.)
        self.rows, self.cols = PairTable(), PairTable()

    def row(self, a: int) -> dict[int, int]:
        """``a``'s support by right entity."""
        return _counts(self.rows, a)

    def col(self, b: int) -> dict[int, int]:
        """``b``'s support by left entity."""
        return _counts(self.cols, b)

    def set_row(self, a: int, counts: dict[int, int]) -> set[int]:
        """Replace ``a``'s row; return the right entities whose column changed."""
        return _replace(self.rows, self.cols, a, counts)

    def set_col(self, b: int, counts: dict[int, int]) -> set[int]:
        """Replace ``b``'s column; return the left entities whose row changed."""
        return _replace(self.cols, self.rows, b, counts)

    def mutual(self, a: int) -> int | None:
        """``a``'s partner where the pair is the unique best of both its entities."""
        b = _best(self.row(a), lambda other: self.prefer(a, other))
        return b if b is not None and self.best_left(b) == a else None

    def best_left(self, b: int) -> int | None:
        """``b``'s unique best left entity, if any."""
        return _best(self.col(b), lambda other: self.prefer(other, b))

    def lefts(self) -> set[int]:
        """Every left entity with a non-empty row."""
        return self.rows.firsts()

    def nbytes(self) -> int:
        """Bytes held by both tables."""
        return self.rows.nbytes() + self.cols.nbytes()


def _counts(table: PairTable, key: int) -> dict[int, int]:
    return {other: int(n) for other, n in table.row(key).items()}


def _replace(mine: PairTable, theirs: PairTable, key: int, counts: dict[int, int]) -> set[int]:
    old = _counts(mine, key)
    changed = {k for k in old.keys() | counts.keys() if old.get(k) != counts.get(k)}
    for other in changed:
        n = counts.get(other)
        if n is None:
            mine.discard(key, other)
            theirs.discard(other, key)
        else:
            mine.put(key, other, n)
            theirs.put(other, key, n)
    return changed


def unique_mutual_best(support: Support) -> list[tuple[int, int]]:
    """Pairs that are the best of both their entities (ties as ``_best`` breaks them)."""
    return sorted((a, b) for a in support.lefts() if (b := support.mutual(a)) is not None)


def neighbourhood_matches(a: Graph, b: Graph, anchors: np.ndarray, rounds: int,
                          fanout: Fanout = HUBS, relations: Relations | None = None,
                          prefer: Prefer = never,
                          eligible: tuple[set[int], set[int]] | None = None) -> np.ndarray:
    """Pairs of unnamed entities matched by the neighbourhood rule (module docstring), as
    ``int64 (n, 2)``; ``anchors`` (``(m, 2)``, one-to-one) are not repeated in the result.
    ``relations`` (default: learnt from ``anchors``) are ``(relation of a, relation of b)``;
    ``prefer`` breaks ties (default: a tie matches nothing); ``eligible``: the entities of
    each graph the rule may match where no anchor holds them (default: the unnamed ones;
    :func:`free_named` for ``named``)."""
    adj = edges(a), edges(b)
    unnamed = eligible if eligible is not None else (
        {i for i, n in enumerate(a.names) if not n}, {i for i, n in enumerate(b.names) if not n})
    current = dict(anchors.tolist())
    if relations is None:
        relations = corresponding_relations(adj[0], adj[1], current)
    index = images(relations)
    found: list[tuple[int, int]] = []
    for _ in range(rounds):
        free = unnamed[1] - set(current.values())
        lefts = {y for x in current for y, _, _ in adj[0](x)
                 if y in unnamed[0] and y not in current}
        support = Support(prefer)
        for node in sorted(lefts):
            support.set_row(node, support_row(adj, current, free.__contains__, index, fanout,
                                              node))
        new = unique_mutual_best(support)
        if not new:
            break
        current.update(new)
        found += new
    return np.asarray(found, dtype=np.int64).reshape(-1, 2)


def rematch_unnamed(a: Graph, b: Graph, picked: np.ndarray, seeds: np.ndarray, rounds: int,
                    fanout: Fanout = HUBS, relations: Relations | None = None,
                    scored: tuple[np.ndarray, np.ndarray] | None = None,
                    named: bool = False) -> np.ndarray:
    """A one-to-one alignment ``picked`` (``(n, 2)``) with its pairs that have an unnamed entity
    replaced by :func:`neighbourhood_matches`, anchored on its named pairs and the ``seeds``
    (labelled links; a picked pair that contradicts one is no anchor); ties go to the pairs
    ``scored`` (``(pairs, at or above the match threshold)``) marks; ``named``: free named
    entities are eligible too (module docstring, 2.)."""
    unnamed_a = np.array([not n for n in a.names], dtype=bool)
    unnamed_b = np.array([not n for n in b.names], dtype=bool)
    by_name = picked[~(unnamed_a[picked[:, 0]] | unnamed_b[picked[:, 1]])]
    agree = ~setops.isin(by_name[:, 0], seeds[:, 0]) & ~setops.isin(by_name[:, 1], seeds[:, 1])
    anchors = np.concatenate([seeds.reshape(-1, 2), by_name[agree]])
    prefer = never
    if scored is not None:
        over = set(map(tuple, scored[0][scored[1]].tolist()))
        prefer = lambda left, right: (left, right) in over  # noqa: E731
    eligible = free_named(a, b, by_name) if named else None
    found = neighbourhood_matches(a, b, anchors, rounds, fanout, relations, prefer, eligible)
    return np.concatenate([by_name, found]).astype(np.int64)


def free_named(a: Graph, b: Graph, held: np.ndarray) -> tuple[set[int], set[int]]:
    """Every entity but those of the pairs ``held`` (a named match stays the model's, even one
    a seed overrules): the eligible entities where free named entities are (module docstring,
    2.; anchors are excluded round by round)."""
    return (set(range(a.num_entities)) - set(held[:, 0].tolist()),
            set(range(b.num_entities)) - set(held[:, 1].tolist()))


def typical(scores: np.ndarray, k: int) -> float:
    """An entity's typical candidate score, CSLS's ``r``: the mean of its ``k`` best pair
    scores (of as many as it has; 0 with none or ``k`` 0)."""
    if not k or not len(scores):
        return 0.0
    best = np.sort(np.asarray(scores, dtype=np.float64))[-k:]
    return float(best.mean())


def typicals(at: np.ndarray, scores: np.ndarray, n: int, k: int) -> list[float]:
    """:func:`typical` of each of ``n`` entities from the scores of their pairs (``at``: the
    entity of each score, ascending; ``NaN``: not scored, left out)."""
    bounds = np.searchsorted(at, np.arange(n + 1)).tolist()
    return [typical(part[~np.isnan(part)], k)
            for part in (scores[lo:hi] for lo, hi in pairwise(bounds))]


def hub_corrected(pairs: np.ndarray, scores: np.ndarray, threshold: float, k: int
                  ) -> np.ndarray:
    """Which candidate ``pairs`` (``(n, 2)``) a tie may go to with the hubness correction: the
    score reaches ``threshold`` and its CSLS ``2·s − r_a − r_b`` is positive, ``r`` each
    entity's :func:`typical` score among ``pairs`` (decision 0057; the engine reads the same
    from its pair book, one entity at a time)."""
    def side(column: np.ndarray) -> np.ndarray:
        if not k or not len(column):
            return np.zeros(len(column))
        n = int(column.max()) + 1
        order = np.lexsort((-scores, column))
        starts = np.searchsorted(column[order], np.arange(n))
        best = order[np.arange(len(order)) - starts[column[order]] < k]
        total = np.bincount(column[best], weights=scores[best], minlength=n)
        return (total / np.maximum(np.bincount(column[best], minlength=n), 1))[column]

    scores = np.asarray(scores, dtype=np.float64)
    return (scores >= threshold) & (2 * scores - side(pairs[:, 0]) - side(pairs[:, 1]) > 0)


def support_score(support: int) -> float:
    """The score a neighbourhood match publishes: ``n / (n + 1)`` for ``n`` supporting anchor
    pairs (0.5 for one, 0.67 for two …) — not a model probability; its evidence says why."""
    return support / (support + 1.0)
