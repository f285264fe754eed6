"""The neighbourhood stage's rounds built from scratch as arrays (a bulk refresh, a restore).

A rebuild used to follow every anchor from empty (``NeighbourhoodStage._follow``): each
anchor's neighbours were collected, each eligible one's support row computed path by path
(``support_row``), written into the tables a pair at a time, and every row and column then
re-matched (``Support.mutual``, ``best_left``) — a Python step per path and per pair (ContEA
batch1: 3.9 CPU s, decision 0116). Here one round is one join: the anchors' edges in A,
expanded by the corresponding relations, against their partners' edges in B on (anchor,
relation, direction), kept where ``neighbourhood.supporting`` keeps a path (both anchors within
``fanout.node``, else both relation groups within ``fanout.group``) and both ends are eligible;
the support of a pair is its number of paths. The best of every row and column is read from
the sorted counts, and only a tie at the top asks ``prefer`` (as ``neighbourhood._best``
does), every tie of a round's rows (then of its columns) in one call. The tables and matches
are those the followed rebuild sets: every pair with a path is a pair of an eligible
neighbour of an anchor that the rebuild re-reads, and a pair's standing depends on its row
and column alone.
"""

from __future__ import annotations

import numpy as np

from stream_align.arrays import segments
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.neighbourhood import Fanout, Images, Prefer, PreferMany, Support
from stream_align.engine.neighbourhood_layer import Layer
from stream_align.engine.packed import LOW

_NONE = np.zeros(0, dtype=np.int64)


def built_layer(graphs: tuple[MutableGraph, MutableGraph], anchors: dict[int, int],
                images: Images, fanout: Fanout, named: bool, prefer: Prefer,
                prefer_many: PreferMany) -> Layer:
    """One round from scratch: its ``anchors`` (left → right), the anchors within the hub
    bound, the support table and the matches (module docstring); ``prefer_many``: ``prefer``
    of many pairs at once (the ties here), ``prefer`` stays with the layer's support table."""
    layer = Layer(anchors=dict(anchors), support=Support(prefer))
    layer.anchors_b = {y: x for x, y in anchors.items()}
    xs = np.fromiter(layer.anchors, dtype=np.int64, count=len(layer.anchors))
    partners = np.fromiter(layer.anchors.values(), dtype=np.int64, count=len(xs))
    eligible = (_eligible(graphs[0], xs, named), _eligible(graphs[1], partners, named))
    active, lefts, rights, counts = _support(graphs, xs, partners, images, fanout, eligible)
    layer.active = set(xs[active].tolist())
    layer.support.rows.load(lefts, rights, counts)
    layer.support.cols.load(rights, lefts, counts)
    layer.matches = _mutual(lefts, rights, counts, prefer_many)
    layer.matched_b = {b: a for a, b in layer.matches.items()}
    return layer


def _eligible(graph: MutableGraph, anchored: np.ndarray, named: bool) -> np.ndarray:
    """Per node: alive, unnamed (or any where ``named``) and no anchor (``_eligible`` of the
    stage, for every node at once)."""
    nodes = np.arange(len(graph.keys))
    out = graph.alive_mask(nodes) if named else graph.unnamed_mask(nodes)
    out[anchored] = False
    return out


def _edges(graph: MutableGraph, nodes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every edge of ``nodes``: ``(i, other end, relation, incoming)`` with ``nodes[i]`` the
    node it is seen from (incoming 1: ``nodes[i]`` is the tail), and each node's degree."""
    at_out, out = graph.out.ends_of(nodes)
    at_in, inn = graph.inn.ends_of(nodes)
    at = np.concatenate([at_out, at_in])
    ends = np.concatenate([out, inn])
    incoming = np.concatenate([np.zeros(len(out), dtype=np.int64),
                               np.ones(len(inn), dtype=np.int64)])
    return at, ends & LOW, ends >> 32, incoming, np.bincount(at, minlength=len(nodes))


def _group_sizes(keys: np.ndarray) -> np.ndarray:
    """How many of ``keys`` equal each one (a relation group's size at its anchor)."""
    _, inverse, sizes = np.unique(keys, return_inverse=True, return_counts=True)
    return sizes[inverse]


def _support(graphs: tuple[MutableGraph, MutableGraph], xs: np.ndarray, partners: np.ndarray,
             images: Images, fanout: Fanout, eligible: tuple[np.ndarray, np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which anchors are within the hub bound, and every supported pair ``(left, right)``
    with its number of supporting paths (``neighbourhood.supporting`` read from the anchors)."""
    at, lefts, rel, inc, degree_a = _edges(graphs[0], xs)
    at_b, rights, rel_b, inc_b, degree_b = _edges(graphs[1], partners)
    active = (degree_a <= fanout.node) & (degree_b <= fanout.node)
    small_a = _group_sizes(at << 32 | rel << 1 | inc) <= fanout.group
    keep = eligible[0][lefts]
    at, lefts, rel, inc, small_a = at[keep], lefts[keep], rel[keep], inc[keep], small_a[keep]
    first, many, flat = _images_of(images, rel)
    row = np.repeat(np.arange(len(at)), many)
    image = segments(flat, first, many)
    wanted = at[row] << 32 | image << 1 | inc[row]
    keys_b = at_b << 32 | rel_b << 1 | inc_b
    order_b = np.argsort(keys_b, kind="stable")
    keys_b, rights = keys_b[order_b], rights[order_b]
    size_b = np.searchsorted(keys_b, wanted, "right") - np.searchsorted(keys_b, wanted)
    through = active[at[row]] | (small_a[row] & (size_b <= fanout.group))
    row, wanted = row[through], wanted[through]
    ok = eligible[1][rights]
    keys_b, rights = keys_b[ok], rights[ok]
    lo = np.searchsorted(keys_b, wanted)
    many_b = np.searchsorted(keys_b, wanted, "right") - lo
    pairs = (np.repeat(lefts[row], many_b) << 32) | segments(rights, lo, many_b)
    pairs, counts = np.unique(pairs, return_counts=True)
    return active, pairs >> 32, pairs & LOW, counts.astype(np.float64)


def _image_table(images: Images) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The relations with images (ascending), where each one's images start in the flat
    list, and the flat list."""
    source = np.array(sorted(images), dtype=np.int64)
    width = np.array([len(images[r]) for r in source.tolist()], dtype=np.int64)
    flat = np.array([r2 for r in source.tolist() for r2 in sorted(images[r])], dtype=np.int64)
    return source, np.cumsum(width) - width, flat


def _images_of(images: Images, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per relation of ``rel``: where its images start in the flat list, how many it has
    (0: none), and the flat list."""
    source, offsets, flat = _image_table(images)
    bounds = np.r_[offsets, len(flat)]
    at = np.searchsorted(source, rel)
    hit = at < len(source)
    hit[hit] = source[at[hit]] == rel[hit]
    first, many = np.zeros(len(rel), dtype=np.int64), np.zeros(len(rel), dtype=np.int64)
    first[hit] = offsets[at[hit]]
    many[hit] = bounds[at[hit] + 1] - offsets[at[hit]]
    return first, many, flat


def _mutual(lefts: np.ndarray, rights: np.ndarray, counts: np.ndarray, prefer: PreferMany
            ) -> dict[int, int]:
    """Every pair that is the unique best of its row and its column (``Support.mutual`` of
    every left), in ascending left order."""
    owners, best = _bests(lefts, rights, counts, prefer)
    wanted = np.isin(rights, best)
    cols, col_best = _bests(rights[wanted], lefts[wanted], counts[wanted],
                            lambda b, a: prefer(a, b))
    back = dict(zip(cols.tolist(), col_best.tolist(), strict=True))
    return {a: b for a, b in zip(owners.tolist(), best.tolist(), strict=True)
            if back.get(b) == a}


def _bests(owner: np.ndarray, other: np.ndarray, counts: np.ndarray, prefer: PreferMany
           ) -> tuple[np.ndarray, np.ndarray]:
    """Each owner's strict best ``other`` by count, or in a tie at the top the one tied entry
    ``prefer(owner, other)`` marks, if one (``neighbourhood._best``); owners with none left
    out. Every tied entry is asked in one call: the engine reads the pair scores of the
    entities it is asked about at once (decision 0123)."""
    order = np.lexsort((-counts, owner))
    owner, other, counts = owner[order], other[order], counts[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else _NONE
    group = np.cumsum(np.r_[False, owner[1:] != owner[:-1]]) if len(owner) else _NONE
    top = counts[starts]
    nxt = np.minimum(starts + 1, len(owner) - 1)
    tied = (nxt > starts) & (owner[nxt] == owner[starts]) & (counts[nxt] == top)
    best = other[starts].copy()
    asked = np.flatnonzero(tied[group] & (counts == top[group]))  # each tie's top entries
    marked = asked[prefer(owner[asked], other[asked])]
    best[tied] = -1  # a tie goes to its one marked entry, else to none
    once = np.bincount(group[marked], minlength=len(starts))[group[marked]] == 1
    best[group[marked[once]]] = other[marked[once]]
    kept = best >= 0
    return owner[starts][kept], best[kept]


def relations_learnt(graphs: tuple[MutableGraph, MutableGraph], anchors: dict[int, int]
                     ) -> set[tuple[int, int]]:
    """``neighbourhood.corresponding_relations`` of the mirrors under ``anchors``, as one
    join: every anchored triple ``(x, r, n)`` (``n`` anchored too) against each triple of the
    same direction between the partners, ``(x', r', n')``; each such ``(r, r')`` counts once a
    pair of triples, and each relation keeps its most frequent image (ties: the largest id,
    as ``max`` of ``(count, relation)`` picks)."""
    xs = np.fromiter(anchors, dtype=np.int64, count=len(anchors))
    partner = np.full(len(graphs[0].keys), -1, dtype=np.int64)
    partner[xs] = np.fromiter(anchors.values(), dtype=np.int64, count=len(xs))
    at, others, rel, inc, _ = _edges(graphs[0], xs)
    anchored = partner[others] >= 0
    at, rel = at[anchored], rel[anchored]
    wanted = at << 33 | partner[others[anchored]] << 1 | inc[anchored]
    at_b, others_b, rel_b, inc_b, _ = _edges(graphs[1], partner[xs])
    keys_b = at_b << 33 | others_b << 1 | inc_b
    order = np.argsort(keys_b, kind="stable")
    keys_b, rel_b = keys_b[order], rel_b[order]
    lo = np.searchsorted(keys_b, wanted)
    many = np.searchsorted(keys_b, wanted, "right") - lo
    co, counts = np.unique(np.repeat(rel, many) << 32 | segments(rel_b, lo, many),
                           return_counts=True)
    mine, theirs = co >> 32, co & LOW
    return _most_frequent(mine, theirs, counts) | {
        (r, r2) for r2, r in _most_frequent(theirs, mine, counts)}


def _most_frequent(first: np.ndarray, second: np.ndarray, counts: np.ndarray
                   ) -> set[tuple[int, int]]:
    """Each ``first``'s ``second`` of the largest count (ties: the largest ``second``)."""
    order = np.lexsort((second, counts, first))
    first, second = first[order], second[order]
    last = np.r_[first[1:] != first[:-1], True] if len(first) else np.zeros(0, dtype=bool)
    return set(zip(first[last].tolist(), second[last].tolist(), strict=True))
