"""The neighbourhood stage: unnamed entities matched by their aligned neighbours, kept per event.

Runs after the decisions stage when ``EngineSettings.neighbourhood_rounds`` > 0 (decisions
0025, 0035). Pairs with an unnamed entity are then not matched by score (the decider's bar for
them is infinite); this stage matches unnamed entities by ``neighbourhood``'s rule, anchored on
the decider's matches and the governing MATCH labels of live entities — the batch aligner's
anchors (named matches and seeds) — so after a refresh its matches are those of
``stream-align align --neighbourhood-rounds R`` on the same graphs and the same corresponding
relations.

State, per round (``_Layer``): the anchors, which anchors are no hub, the support table
(``neighbourhood.Support``) and the round's matches. Round ``k + 1``'s anchors are round
``k``'s anchors and matches, so each round is a function of the one before and the result does
not depend on the order of events (a fixed point fed back into one table would).

Cost per event, bounded: a support row is replaced whole from the current graphs
(``support_row``: ``deg·fanout``), and only rows or columns that can have changed are: the
entities a change touched, the two ends of an anchor that moved, and the neighbours of an anchor
that moved or crossed the hub bound (at most ``fanout`` of them, since only a non-hub anchor
gives support). A row's or column's best is read from that row alone, so only the pairs of
entities whose row or column changed are re-matched.

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from stream_align.engine.decisions import Change, Decider
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.neighbourhood import Edge, Relations, Support, corresponding_relations
from stream_align.engine.neighbourhood import support_row as _row
from stream_align.events.contracts import Direction, Evidence

_LOW = 0xFFFFFFFF
Moves = dict[int, tuple[int | None, int | None]]  # left → (old partner, new partner)


class _Mirror:
    """A mirror's adjacency as ``neighbourhood`` reads it."""

    def __init__(self, graph: MutableGraph) -> None:
        self.graph = graph

    def __call__(self, node: int) -> Sequence[Edge]:
        g = self.graph
        return ([(p & _LOW, p >> 32, 1) for p in g.out.ends(node)]
                + [(p & _LOW, p >> 32, -1) for p in g.inn.ends(node)])

    def degree(self, node: int) -> int:
        return self.graph.out.count(node) + self.graph.inn.count(node)


@dataclass
class _Layer:
    """One round: its anchors (left → right and back), the anchors that are no hub, its
    support table and its matches."""

    anchors: dict[int, int] = field(default_factory=dict)
    anchors_b: dict[int, int] = field(default_factory=dict)
    active: set[int] = field(default_factory=set)
    support: Support = field(default_factory=Support)
    matches: dict[int, int] = field(default_factory=dict)
    matched_b: dict[int, int] = field(default_factory=dict)

    def wanted(self, x: int) -> int | None:
        """The next round's anchor of ``x``: this round's anchor or match."""
        return self.anchors.get(x, self.matches.get(x))


class NeighbourhoodStage:
    """Neighbourhood matches of both mirrors, kept under change (module docstring)."""

    def __init__(self, graphs: tuple[MutableGraph, MutableGraph], rounds: int, fanout: int
                 ) -> None:
        self.graphs, self.fanout = graphs, fanout
        self.adj = _Mirror(graphs[0]), _Mirror(graphs[1])
        self.layers = [_Layer() for _ in range(rounds)]
        self.relations: set[tuple[int, int]] = set()
        self.flipped: set[tuple[int, int]] = set()  # (relation of B, relation of A)
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
        self.flipped = {(r2, r) for r, r2 in ids}

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

    def update(self, decider: Decider, touched: tuple[set[int], set[int]],
               keys: tuple[set[str], set[str]]) -> list[Change]:
        """Follow the decider's anchors after a refresh: ``touched`` mirror nodes changed,
        ``keys`` (left, right) are entities whose decision or label may have moved. Returns
        the stage's decision changes, as the decider's."""
        ga, gb = self.graphs
        lefts = set(touched[0]) | {i for k in keys[0] if (i := ga.index.get(k)) is not None}
        rights = set(touched[1]) | {i for k in keys[1] if (i := gb.index.get(k)) is not None}
        moves = self._moves(decider, lefts, rights)
        count = len(self.layers[0].anchors) + sum(
            (new is not None) - (old is not None) for old, new in moves.values())
        triples = self._triples()
        if count and (count >= 2 * self.learnt_at[0] or triples >= 2 * self.learnt_at[1]):
            moved = self._rebuild(decider)
        else:
            moved = self._follow(moves, touched)
        return self._changes(moved)

    def _triples(self) -> int:
        return self.graphs[0].triple_count + self.graphs[1].triple_count

    def _rebuild(self, decider: Decider, relearn: bool = True) -> set[int]:
        """Every table from scratch (a restore, or relearning the relations from round one's
        current anchors): one scan of the left graph, amortised as the module says."""
        anchors = {x: y for x in self.graphs[0].alive_indices()
                   if (y := self._anchor(decider, x)) is not None}
        if relearn:
            self._set_relations(corresponding_relations(self.adj[0], self.adj[1], anchors),
                                (len(anchors), self._triples()))
            self.learnt = True
        self.layers = [_Layer() for _ in self.layers]
        self._diff_all = True
        return self._follow({x: (None, y) for x, y in anchors.items()}, (set(), set()))

    def restore(self, decider: Decider, published: Iterable[tuple[str, str, float]]) -> None:
        """Tables rebuilt from the restored decider and mirrors, under the stored relations;
        the next refresh publishes what differs from the stored matches."""
        self.published = {left: (right, score) for left, right, score in published}
        self._rebuild(decider, relearn=False)

    def _follow(self, moves: Moves, touched: tuple[set[int], set[int]]) -> set[int]:
        """Every round after its anchors moved; the left entities whose match moved."""
        moved: set[int] = set()
        for k, layer in enumerate(self.layers):
            matched = self._layer(layer, moves, touched)
            moved |= matched
            if k + 1 < len(self.layers):
                nxt = self.layers[k + 1]
                moves = {x: (old, new) for x in moves.keys() | matched
                         if (old := nxt.anchors.get(x)) != (new := layer.wanted(x))}
        return moved

    def _layer(self, layer: _Layer, moves: Moves, touched: tuple[set[int], set[int]]
               ) -> set[int]:
        """One round after anchor ``moves`` and graph changes at ``touched``: replace every
        row and column that can have changed, re-match their entities."""
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
        changed_b, changed_a = set(cols), set(rows)
        for a in rows:
            changed_b |= layer.support.set_row(a, self._side_row(layer, 0, a))
        for b in cols:
            changed_a |= layer.support.set_col(b, self._side_row(layer, 1, b))
        return self._rematch(layer, changed_a, changed_b)

    def _recheck(self, layer: _Layer, x: int, rows: set[int], force: bool = False) -> None:
        """Whether anchor ``x`` gives support (no hub on either side); where it did or does
        and it moved (``force``) or that changed, its neighbours' rows can have changed."""
        y = layer.anchors.get(x)
        now = y is not None and (self.adj[0].degree(x) <= self.fanout
                                 and self.adj[1].degree(y) <= self.fanout)
        was = x in layer.active
        if now:
            layer.active.add(x)
        else:
            layer.active.discard(x)
        if (force and (was or now)) or was != now:
            rows.update(n for n, _, _ in self.adj[0](x))

    def _eligible(self, layer: _Layer, side: int, node: int) -> bool:
        entity = self.graphs[side].entities[node]
        anchored = layer.anchors if side == 0 else layer.anchors_b
        return entity is not None and not entity.name and node not in anchored

    def _side_row(self, layer: _Layer, side: int, node: int) -> dict[int, int]:
        """``node``'s support row (side 0) or column (side 1), empty where it is not eligible."""
        if not self._eligible(layer, side, node):
            return {}
        adj = self.adj if side == 0 else (self.adj[1], self.adj[0])
        partner = layer.anchors if side == 0 else layer.anchors_b
        relations: Relations = self.relations if side == 0 else self.flipped
        return _row(adj, partner, lambda other: self._eligible(layer, 1 - side, other),
                    relations, self.fanout, node)

    def _rematch(self, layer: _Layer, changed_a: set[int], changed_b: set[int]) -> set[int]:
        """Re-match every entity whose row or column changed (a pair's standing depends on
        its row and its column only); return the left entities whose match moved."""
        support = layer.support
        lefts = set(changed_a)
        for b in changed_b:
            lefts.update(a for a in (layer.matched_b.get(b), support.best_left(b))
                         if a is not None)
        old = {a: layer.matches.pop(a) for a in lefts if a in layer.matches}
        for b in old.values():
            del layer.matched_b[b]
        for a in sorted(lefts):
            b = support.mutual(a)
            if b is not None and b not in layer.matched_b:
                layer.matches[a], layer.matched_b[b] = b, a
        return {a for a in lefts if old.get(a) != layer.matches.get(a)}

    # reading

    def current(self) -> dict[int, tuple[int, int]]:
        """Every match: left node → (right node, support)."""
        return {a: (b, layer.support.rows[a][b])
                for layer in self.layers for a, b in layer.matches.items()}

    def _changes(self, moved: set[int]) -> list[Change]:
        """The decision changes of the lefts in ``moved`` (all after a rebuild or restore),
        retractions first, as the decider publishes them."""
        ga, gb = self.graphs
        now = self.current()
        if self._diff_all:
            moved = {ga.index[k] for k in self.published if k in ga.index} | now.keys()
            self._diff_all = False
        retracts, matches = [], []
        for a in sorted(moved, key=lambda node: ga.keys[node]):
            left = ga.keys[a]
            old = self.published.get(left)
            new = None if a not in now else (gb.keys[now[a][0]], support_score(now[a][1]))
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
        found = []
        for x, r, d in self.adj[0](a):
            x2 = layer.anchors.get(x)
            if x2 is None or x not in layer.active:
                continue
            found += [(x, x2, r, r2, d) for y, r2, d2 in self.adj[1](x2)
                      if y == b and d2 == -d and (r, r2) in self.relations]
        weight = 1.0 / max(len(found), 1)
        return tuple(Evidence(
            left_neighbour=ga.keys[x], right_neighbour=gb.keys[x2],
            relation_left=ga.relations[r], relation_right=gb.relations[r2],
            direction_left=_direction(d), direction_right=_direction(d), weight=weight)
            for x, x2, r, r2, d in sorted(found)[:size])


def _direction(d: int) -> Direction:
    return Direction.OUTGOING if d == 1 else Direction.INCOMING


def support_score(support: int) -> float:
    """The score a neighbourhood match publishes: ``n / (n + 1)`` for ``n`` supporting anchor
    pairs (0.5 for one, 0.67 for two …) — not a model probability; its evidence says why."""
    return support / (support + 1.0)
