"""Neighbourhood matches: unnamed entities matched by the relations to their aligned neighbours.

A new entity of a growing graph (ContEA's batches) arrives unnamed with one to three triples. The
model scores it from structure alone, and those scores do not tell its right partner from the
others (decision 0026: right and wrong pairs score alike; half the right partners are not even
among the top-10). Its few triples say more when read literally: if ``a —r→ x`` and ``x`` is
aligned to ``x'``, then ``a``'s partner is likely a neighbour of ``x'`` joined to it by the
relation that corresponds to ``r``, in the same direction. Decision 0025 measures it.

The rule, a function of the graphs and the anchors (the model's matches and the seed links):

1. *Corresponding relations* — from the anchors alone: ``(r, r')`` counts every anchored triple
   ``(h, r, t)`` whose image ``(h', r', t')`` exists; ``r'`` corresponds to ``r`` where it is
   ``r``'s most frequent image or ``r`` is ``r'``'s (no tuned constant).
2. *Support* of a pair ``(a, b)`` of unanchored, unnamed entities (a named entity is left to
   the model: its name is the stronger signal, and the unnamed one would compete): the number of
   anchor pairs ``(x, x')`` with ``a`` joined to ``x`` and ``b`` to ``x'`` by corresponding
   relations in the same direction. Anchors with more than ``max_fanout`` neighbours on either
   side are skipped (a hub's neighbours say nothing about one of them; this also bounds the
   work per anchor by ``max_fanout²``).
3. A pair is matched where it is the unique best of both its entities by support.
4. ``rounds`` > 1: the matches join the anchors and the rule runs again (self-training).

The cost is bounded per anchor (``max_fanout²``) and touches only the anchors' neighbourhoods;
an anchor that changes moves the support of its own neighbours only, which is what an
incremental stage in the engine would recompute (decision 0025 — not built yet: today the
batch aligner applies it, ``AlignSettings.neighbourhood_rounds``).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from stream_align.graph import Graph

Edges = dict[int, list[tuple[int, int, int]]]  # entity → (neighbour, relation, +1 out / -1 in)


def edges(graph: Graph) -> Edges:
    """Each entity's triples as ``(neighbour, relation, direction)``."""
    out: Edges = defaultdict(list)
    for h, r, t in graph.triples.tolist():
        out[h].append((t, r, 1))
        out[t].append((h, r, -1))
    return out


def corresponding_relations(adj_a: Edges, adj_b: Edges, anchors: dict[int, int]
                            ) -> set[tuple[int, int]]:
    """``(r, r')`` where ``r'`` is ``r``'s most frequent anchored image, or ``r`` is ``r'``'s."""
    co: Counter[tuple[int, int]] = Counter()
    for a, b in anchors.items():
        images: dict[tuple[int, int], list[int]] = defaultdict(list)
        for y, r2, d in adj_b.get(b, ()):
            images[y, d].append(r2)
        for x, r, d in adj_a.get(a, ()):
            if x in anchors:
                for r2 in images.get((anchors[x], d), ()):
                    co[r, r2] += 1
    best_a: dict[int, tuple[int, int]] = {}
    best_b: dict[int, tuple[int, int]] = {}
    for (r, r2), n in sorted(co.items()):
        best_a[r] = max(best_a.get(r, (0, -1)), (n, r2))
        best_b[r2] = max(best_b.get(r2, (0, -1)), (n, r))
    return {(r, r2) for r, (_, r2) in best_a.items()} | {(r, r2) for r2, (_, r) in best_b.items()}


def support(adj_a: Edges, adj_b: Edges, anchors: dict[int, int], unnamed: tuple[set, set],
            relations: set[tuple[int, int]], max_fanout: int) -> Counter[tuple[int, int]]:
    """Relation-consistent anchored neighbours shared by pairs of unanchored unnamed entities."""
    taken = set(anchors.values())
    counts: Counter[tuple[int, int]] = Counter()
    for x, x2 in anchors.items():
        around_a, around_b = adj_a.get(x, ()), adj_b.get(x2, ())
        if len(around_a) > max_fanout or len(around_b) > max_fanout:
            continue
        free_b = [(b, r2, d) for b, r2, d in around_b if b in unnamed[1] and b not in taken]
        for a, r, d in around_a:
            if a not in unnamed[0] or a in anchors:
                continue
            for b, r2, d2 in free_b:
                if d2 == d and (r, r2) in relations:
                    counts[a, b] += 1
    return counts


def unique_mutual_best(counts: Counter[tuple[int, int]], minimum: int = 1
                       ) -> list[tuple[int, int]]:
    """Pairs that are the strict best of both their entities (ties match nothing)."""
    tops: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})
    for (a, b), n in counts.items():
        for side, key in ((0, a), (1, b)):
            best = tops[side].setdefault(key, [0, 0, -1])  # best count, runner-up, partner
            if n > best[0]:
                best[:] = [n, best[0], b if side == 0 else a]
            elif n > best[1]:
                best[1] = n
    out = []
    for a, (n, second, b) in tops[0].items():
        theirs = tops[1][b]
        if n >= minimum and n > second and theirs[2] == a and theirs[0] > theirs[1]:
            out.append((a, b))
    return sorted(out)


def neighbourhood_matches(a: Graph, b: Graph, anchors: np.ndarray, rounds: int,
                          max_fanout: int = 64) -> np.ndarray:
    """Pairs of unnamed entities matched by the neighbourhood rule (module docstring), as
    ``int64 (n, 2)``; ``anchors`` (``(m, 2)``, one-to-one) are not repeated in the result."""
    adj_a, adj_b = edges(a), edges(b)
    unnamed = ({i for i, n in enumerate(a.names) if not n},
               {i for i, n in enumerate(b.names) if not n})
    current = dict(anchors.tolist())
    found: list[tuple[int, int]] = []
    for _ in range(rounds):
        relations = corresponding_relations(adj_a, adj_b, current)
        new = unique_mutual_best(support(adj_a, adj_b, current, unnamed, relations, max_fanout))
        if not new:
            break
        current.update(new)
        found += new
    return np.asarray(found, dtype=np.int64).reshape(-1, 2)


def rematch_unnamed(a: Graph, b: Graph, picked: np.ndarray, seeds: np.ndarray, rounds: int,
                    max_fanout: int = 64) -> np.ndarray:
    """A one-to-one alignment ``picked`` (``(n, 2)``) with its pairs that have an unnamed entity
    replaced by :func:`neighbourhood_matches`, anchored on its named pairs and the ``seeds``
    (labelled links; a picked pair that contradicts one is no anchor)."""
    unnamed_a = np.array([not n for n in a.names], dtype=bool)
    unnamed_b = np.array([not n for n in b.names], dtype=bool)
    named = picked[~(unnamed_a[picked[:, 0]] | unnamed_b[picked[:, 1]])]
    agree = ~np.isin(named[:, 0], seeds[:, 0]) & ~np.isin(named[:, 1], seeds[:, 1])
    anchors = np.concatenate([seeds.reshape(-1, 2), named[agree]])
    found = neighbourhood_matches(a, b, anchors, rounds, max_fanout)
    return np.concatenate([named, found]).astype(np.int64)
