"""The neighbourhood stage: unnamed entities matched by their aligned neighbours, kept per event.

Runs after the decisions stage when ``EngineSettings.neighbourhood_rounds`` > 0 (decisions
0025, 0035). Pairs with an unnamed entity are then not matched by score (the decider's bar for
them is infinite); this stage matches unnamed entities by ``neighbourhood``'s rule, anchored on
the decider's matches and the governing MATCH labels of live entities — the batch aligner's
anchors (named matches and seeds) — so after a refresh its matches are those of
``stream-align align --neighbourhood-rounds R`` on the same graphs and the same corresponding
relations.

State, per round (``neighbourhood_layer.Layer``): the anchors, which anchors are no hub, the
support table (``neighbourhood.Support``) and the round's matches. Round ``k + 1``'s anchors
are round ``k``'s anchors and matches, so each round is a function of the one before and the
result does not depend on the order of events (a fixed point fed back into one table would).

Cost per event, bounded: a support row is replaced whole from the current graphs
(``support_row``: ``deg·fanout``), and only rows or columns that can have changed are: the
entities a change touched, the two ends of an anchor that moved, the neighbours of an anchor
that moved or crossed the hub bound (at most ``fanout`` of them, since an anchor within the
bound has no more; a hub's that moved: those in its relation groups within the group bound),
and the members of a relation group at an anchor that crossed the group bound (at most
``group_fanout + 1``). The groups above the bound are kept per node with such a group
(``_big``: a hub's few large relations), recomputed for the nodes a change touched, so a
crossing is seen without scanning anything else. A row's or column's best is read from that row
alone, so only the pairs of entities whose row or column changed are re-matched; where a pair
was rescored, also the pairs in its entities' row and column (a tie-break that reads an
entity's other pair scores — the hubness correction, decision 0057 — moves with them).

*Corresponding relations* are learnt from round one's anchors and frozen: relearnt only when the
anchors or the triples (both graphs) have doubled since, a full rebuild whose cost is amortised
to O(1) per anchor or triple added (like a growing array); the triples count too, because
anchors made while the graphs are still sparse (a stream from empty) have few anchored triples
to learn from. Relearning them on every change would make each anchor
move a global change. They are stored per model version with the state
(``StateDelta.neighbourhood_relations``) and the stage's published matches as decisions marked
``by_neighbourhood``; a restore rebuilds the tables from the graphs, anchors and stored
relations (a function of them) and publishes at its first refresh what differs from the stored
matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Set

import numpy as np

from stream_align.engine.decisions import Change, Decider
from stream_align.engine.mutable_graph import Adjacency, MutableGraph
from stream_align.engine.neighbourhood import (
    HUBS,
    Fanout,
    Images,
    Prefer,
    PreferMany,
    Support,
    each,
    images,
    never,
    support_score,
    supporting,
)
from stream_align.engine.neighbourhood import support_row as _row
from stream_align.engine.neighbourhood_bulk import built_layer, relations_learnt
from stream_align.engine.neighbourhood_layer import Layer
from stream_align.events.contracts import Direction, Evidence

Moves = dict[int, tuple[int | None, int | None]]  # left → (old partner, new partner)
Crossed = list[tuple[int, int, int, int]]  # (side, node, relation, direction) of a group


class NeighbourhoodStage:
    """Neighbourhood matches of both mirrors, kept under change (module docstring)."""

    def __init__(self, graphs: tuple[MutableGraph, MutableGraph], rounds: int,
                 fanout: Fanout = HUBS, prefer: Prefer = never, named: bool = False,
                 prefer_many: PreferMany | None = None) -> None:
        """``prefer(left, right)``: the model alone would match the pair (breaks a tie; the
        engine passes its pair score against the match threshold); ``named``: named entities
        no anchor holds are eligible too (``neighbourhood``'s docstring, 2.);
        ``prefer_many``: ``prefer`` of many pairs at once, what a rebuild asks of its ties
        (default: ``prefer`` of one pair after another)."""
        self.graphs, self.fanout, self.prefer, self.named = graphs, fanout, prefer, named
        self.prefer_many = each(prefer) if prefer_many is None else prefer_many
        self.adj = Adjacency(graphs[0]), Adjacency(graphs[1])
        self.layers = [self._new_layer() for _ in range(rounds)]
        self.relations: set[tuple[int, int]] = set()
        self.images: tuple[Images, Images] = {}, {}  # of A's relations, of B's
        # per side, node → its relation groups above the group bound (relation << 1 | incoming)
        self.big: tuple[dict[int, tuple[int, ...]], dict[int, tuple[int, ...]]] = {}, {}
        self.learnt_at = (0, 0)  # round one's anchors, triples when the relations were learnt
        self.published: dict[str, tuple[str, float]] = {}  # left key → right key, score
        self._diff_all = False  # after a restore: compare every match with the stored ones
        self.learnt = False  # relations learnt since the engine last took them (its delta)

    # relations

    def relation_names(self) -> list[tuple[str, str]]:
        """The frozen relations by name (what the store keeps)."""
        ra, rb = self.graphs[0].relations, self.graphs[1].relations
        return sorted((ra[r], rb[r2]) for r, r2 in self.relations)

    def use_relations(self, learnt_at: tuple[int, int], names: Iterable[tuple[str, str]]
                      ) -> None:
        """Frozen relations read back from the store."""
        ids = {(self.graphs[0].relation_id(r), self.graphs[1].relation_id(r2))
               for r, r2 in names}
        self._set_relations(ids, learnt_at)

    def _set_relations(self, ids: set[tuple[int, int]], learnt_at: tuple[int, int]) -> None:
        self.relations, self.learnt_at = ids, learnt_at
        self.images = images(ids), images(ids, flip=True)

    # anchors (from the decider)

    def _anchor(self, decider: Decider, x: int, side: int = 0) -> int | None:
        """Node ``x``'s round-one anchor in the other graph: its governing MATCH label where
        that governs both live entities, else its decider match."""
        mine, theirs = self.graphs[side], self.graphs[1 - side]
        if not mine.is_alive(x):
            return None
        key = mine.keys[x]
        forced, back = ((decider.forced_left, decider.forced_right) if side == 0
                        else (decider.forced_right, decider.forced_left))
        other = forced.get(key)
        if other is None or back.get(other) != key:
            other = (decider.matches if side == 0 else decider.matched_right).get(key)
        node = None if other is None else theirs.index.get(other)
        return node if node is not None and theirs.is_alive(node) else None

    def _moves(self, decider: Decider, lefts: set[int], rights: set[int]) -> Moves:
        """Round one's anchors that moved among the entities whose standing may have."""
        first = self.layers[0]
        lefts = set(lefts)
        for y in rights:
            lefts.update(x for x in (first.anchors_b.get(y), self._anchor(decider, y, 1))
                         if x is not None)
        moves: Moves = {}
        for x in lefts:
            old, new = first.anchors.get(x), self._anchor(decider, x)
            if old != new:
                moves[x] = old, new
        return moves

    # one refresh

    def _new_layer(self) -> Layer:
        return Layer(support=Support(self.prefer))

    def update(self, decider: Decider, touched: tuple[Set[int], Set[int]],
               keys: tuple[set[str], set[str]],
               rescored: tuple[Set[int], Set[int]] = (set(), set()),
               bulk: bool = False) -> list[Change]:
        """Follow the decider's anchors after a refresh: ``touched`` mirror nodes changed,
        ``keys`` (left, right) are entities whose decision or label may have moved, the pairs
        of ``rescored`` (left, right) nodes changed score (``prefer``). Returns the stage's
        decision changes, as the decider's.

        ``bulk``: the refresh reached most of both graphs (a ContEA snapshot, a backlog: the
        engine's rebuild-sized refresh) — then every table is built from scratch, as a
        restore builds them, instead of following the changes row by row (the same tables:
        the stage is a function of the graphs, anchors and relations; ContEA batch1: one
        build of a few seconds against ≈ 70 s of followed rows, decision 0046)."""
        crossed = self._regroup(touched)
        if bulk:
            anchors = self._anchors(decider)
            return self._changes(self._rebuild(decider, self._relearn_due(len(anchors)),
                                               anchors))
        ga, gb = self.graphs
        lefts = set(touched[0]) | {i for k in keys[0] if (i := ga.index.get(k)) is not None}
        rights = set(touched[1]) | {i for k in keys[1] if (i := gb.index.get(k)) is not None}
        moves = self._moves(decider, lefts, rights)
        count = len(self.layers[0].anchors) + sum(
            (new is not None) - (old is not None) for old, new in moves.values())
        if self._relearn_due(count):
            moved = self._rebuild(decider)
        else:
            moved = self._follow(moves, touched, crossed, rescored)
        return self._changes(moved)

    def _relearn_due(self, anchors: int) -> bool:
        """Round one's ``anchors`` or the triples have doubled since the relations were learnt
        (the amortised relearning of the module docstring)."""
        return bool(anchors) and (anchors >= 2 * self.learnt_at[0]
                                  or self._triples() >= 2 * self.learnt_at[1])

    def _regroup(self, touched: tuple[Set[int], Set[int]]) -> Crossed:
        """Recompute the large groups of the touched nodes; the groups that crossed the bound."""
        crossed: Crossed = []
        for side in (0, 1):
            big = self.big[side]
            for node in touched[side]:
                now, old = self._big(side, node), big.get(node, ())
                if now == old:
                    continue
                if now:
                    big[node] = now
                else:
                    del big[node]
                crossed += [(side, node, key >> 1, -1 if key & 1 else 1)
                            for key in set(now).symmetric_difference(old)]
        return crossed

    def _big(self, side: int, node: int) -> tuple[int, ...]:
        """``node``'s relation groups of more than ``fanout.group`` neighbours, as
        ``relation << 1 | incoming``: a count of its ends by relation (``deg(node)``)."""
        graph, bound = self.graphs[side], self.fanout.group
        keys: list[int] = []
        for incoming, table in ((0, graph.out), (1, graph.inn)):
            if table.count(node) > bound:
                rels, counts = np.unique(np.asarray(table.ends(node), dtype=np.int64) >> 32,
                                         return_counts=True)
                keys += [int(r) << 1 | incoming for r in rels[counts > bound]]
        return tuple(sorted(keys))

    def _triples(self) -> int:
        return self.graphs[0].triple_count + self.graphs[1].triple_count

    def _anchors(self, decider: Decider) -> dict[int, int]:
        """Round one's anchors of every live left entity (one scan of the left graph)."""
        return {x: y for x in self.graphs[0].alive_indices()
                if (y := self._anchor(decider, x)) is not None}

    def _rebuild(self, decider: Decider, relearn: bool = True,
                 anchors: dict[int, int] | None = None) -> set[int]:
        """Every table from scratch (a restore, a bulk refresh, or relearning the relations
        from round one's current ``anchors``): amortised as the module says; each round built
        as arrays (``neighbourhood_bulk``), the tables following the anchors from empty would
        hold."""
        anchors = self._anchors(decider) if anchors is None else anchors
        if relearn:
            self._set_relations(relations_learnt(self.graphs, anchors),
                                (len(anchors), self._triples()))
            self.learnt = True
        self._diff_all = True
        moved: set[int] = set()
        for k in range(len(self.layers)):  # round k + 1's anchors: round k's and its matches
            layer = self.layers[k] = built_layer(self.graphs, anchors, self.images[0],
                                                 self.fanout, self.named, self.prefer,
                                                 self.prefer_many)
            moved.update(layer.matches)
            anchors = anchors | layer.matches
        return moved

    def restore(self, decider: Decider, published: Iterable[tuple[str, str, float]]) -> None:
        """Tables rebuilt from the restored decider and mirrors, under the stored relations;
        the next refresh publishes what differs from the stored matches."""
        self.published = {left: (right, score) for left, right, score in published}
        self._regroup((set(self.graphs[0].alive_indices()), set(self.graphs[1].alive_indices())))
        self._rebuild(decider, relearn=False)

    def _follow(self, moves: Moves, touched: tuple[Set[int], Set[int]], crossed: Crossed,
                rescored: tuple[Set[int], Set[int]] = (set(), set())) -> set[int]:
        """Every round after its anchors moved; the left entities whose match moved."""
        moved: set[int] = set()
        for k, layer in enumerate(self.layers):
            matched = self._layer(layer, moves, touched, crossed, rescored)
            moved |= matched
            if k + 1 < len(self.layers):
                nxt = self.layers[k + 1]
                moves = {x: (old, new) for x in moves.keys() | matched
                         if (old := nxt.anchors.get(x)) != (new := layer.wanted(x))}
        return moved

    def _layer(self, layer: Layer, moves: Moves, touched: tuple[Set[int], Set[int]],
               crossed: Crossed, rescored: tuple[Set[int], Set[int]]) -> set[int]:
        """One round after anchor ``moves``, graph changes at ``touched``, relation groups
        that ``crossed`` the group bound and pairs ``rescored``: replace every row and column
        that can have changed, re-match their entities and the rescored ones."""
        rows, cols = set(touched[0]) | moves.keys(), set(touched[1])
        for x, (old, _) in moves.items():  # every removal first: a right may change hands
            if old is not None:
                del layer.anchors[x], layer.anchors_b[old]
                cols.add(old)
        for x, (_, new) in moves.items():
            if new is not None:
                layer.anchors[x], layer.anchors_b[new] = new, x
                cols.add(new)
            self._recheck(layer, x, rows, force=True)
        for x in {layer.anchors_b.get(y) for y in touched[1]} | touched[0]:
            if x is not None and x in layer.anchors and x not in moves:
                self._recheck(layer, x, rows)
        for side, node, r, d in crossed:  # its members' support through it changed
            if side == 0 and (node in layer.anchors or node in moves):
                rows.update(self.adj[0].group(node, r, d))
            elif side == 1 and node in layer.anchors_b:  # a B end that moved: by its rows
                cols.update(self.adj[1].group(node, r, d))
        changed_b, changed_a = cols | rescored[1], rows | rescored[0]
        for a in rows:
            changed_b |= layer.support.set_row(a, self._side_row(layer, 0, a))
        for b in cols:
            changed_a |= layer.support.set_col(b, self._side_row(layer, 1, b))
        for a in rescored[0]:  # a tie-break may read an entity's other pairs (CSLS)
            changed_b.update(layer.support.row(a))  # in place: ``|= d.keys()`` copies the set
        for b in rescored[1]:
            changed_a.update(layer.support.col(b))
        return layer.rematch(changed_a, changed_b)

    def _recheck(self, layer: Layer, x: int, rows: set[int], force: bool = False) -> None:
        """Whether anchor ``x`` is within the hub bound on both sides; where it was or is and it
        moved (``force``), or that changed, its neighbours' rows can have changed; a hub that
        moved supports only through its groups within the group bound."""
        y = layer.anchors.get(x)
        now = y is not None and (self.adj[0].degree(x) <= self.fanout.node
                                 and self.adj[1].degree(y) <= self.fanout.node)
        was = x in layer.active
        if now:
            layer.active.add(x)
        else:
            layer.active.discard(x)
        if (force and (was or now)) or was != now:
            rows.update(n for n, _, _ in self.adj[0](x))
        elif force:  # only rows that can hold support: eligible, by a relation with images
            big, images = self.big[0].get(x, ()), self.images[0]
            rows.update(n for n, r, d in self.adj[0](x)
                        if r in images and (r << 1 | (d == -1)) not in big
                        and self._eligible(layer, 0, n))

    def _eligible(self, layer: Layer, side: int, node: int) -> bool:
        graph = self.graphs[side]
        anchored = layer.anchors if side == 0 else layer.anchors_b
        return (graph.is_alive(node) and (self.named or not graph.is_named(node))
                and node not in anchored)

    def _side_row(self, layer: Layer, side: int, node: int) -> dict[int, int]:
        """``node``'s support row (side 0) or column (side 1), empty where it is not eligible."""
        if not self._eligible(layer, side, node):
            return {}
        adj = self.adj if side == 0 else (self.adj[1], self.adj[0])
        partner = layer.anchors if side == 0 else layer.anchors_b
        return _row(adj, partner, lambda other: self._eligible(layer, 1 - side, other),
                    self.images[side], self.fanout, node)

    # reading

    def current(self) -> dict[int, tuple[int, int]]:
        """Every match: left node → (right node, support)."""
        return {a: match for layer in self.layers for a in layer.matches
                if (match := self._match(a)) is not None}

    def _match(self, a: int) -> tuple[int, int] | None:
        """``a``'s match and its support, if a round matched it (one round at most: a match
        is an anchor of the rounds after)."""
        for layer in self.layers:
            if (b := layer.matches.get(a)) is not None:
                return b, int(layer.support.rows.get(a, b) or 0)
        return None

    def _changes(self, moved: set[int]) -> list[Change]:
        """The decision changes of the lefts in ``moved`` (all after a rebuild or restore),
        retractions first, as the decider publishes them."""
        ga, gb = self.graphs
        if self._diff_all:
            moved = ({ga.index[k] for k in self.published if k in ga.index}
                     | {a for layer in self.layers for a in layer.matches})
            self._diff_all = False
        retracts, matches = [], []
        for a in sorted(moved, key=lambda node: ga.keys[node]):
            left = ga.keys[a]
            old = self.published.get(left)
            now = self._match(a)
            new = None if now is None else (gb.keys[now[0]], support_score(now[1]))
            if old is not None and (new is None or new[0] != old[0]):
                retracts.append(Change(left, old[0], old[1], True, old[1]))
                del self.published[left]
                old = None
            if new is not None and old is None:
                matches.append(Change(left, new[0], new[1], False, None))
                self.published[left] = new
        return retracts + matches

    def evidence(self, left: str, right: str, size: int) -> tuple[Evidence, ...]:
        """The anchored neighbour pairs that support a match (at most ``size``), readable: the
        relation and the neighbour on each side, each weighing its share of the support."""
        ga, gb = self.graphs
        a, b = ga.index[left], gb.index[right]
        layer = next((x for x in self.layers if x.matches.get(a) == b), None)
        if layer is None:
            return ()
        found = [path[:5] for path in supporting(self.adj, layer.anchors, self.images[0],
                                                  self.fanout, a) if path[5] == b]
        weight = 1.0 / max(len(found), 1)
        return tuple(Evidence(
            left_neighbour=ga.keys[x], right_neighbour=gb.keys[x2],
            relation_left=ga.relations[r], relation_right=gb.relations[r2],
            direction_left=_direction(d), direction_right=_direction(d), weight=weight)
            for x, x2, r, r2, d in sorted(found)[:size])


def _direction(d: int) -> Direction:
    return Direction.OUTGOING if d == 1 else Direction.INCOMING
