"""The neighbourhood stage kept under change equals the batch rule on the same graphs.

Random small graphs changed step by step (triples added and removed, entities named, anchors
made, moved and withdrawn, labels, pairs the model would match — what breaks a tie — changed):
after every step the stage's matches equal
``neighbourhood_matches`` computed from scratch with the stage's relations, for one to three
rounds, hubs crossing the fanout bound and relation groups crossing the group bound, with
unnamed entities eligible or, ``named``, every entity no anchor holds (decision 0057)."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from stream_align import setops
from stream_align.engine.mutable_graph import Adjacency, MutableGraph
from stream_align.engine.neighbourhood import (
    Fanout,
    corresponding_relations,
    neighbourhood_matches,
    never,
)
from stream_align.engine.neighbourhood_bulk import relations_learnt
from stream_align.engine.neighbourhood_stage import NeighbourhoodStage
from stream_align.graph import Graph

SIZE, RELATIONS = 40, 3


def _mirrors(rng: random.Random) -> tuple[MutableGraph, MutableGraph]:
    """Two graphs that mostly agree: B is A with its relations renamed (B's ``r`` is A's
    ``r + 1``) and a fifth of the triples swapped for random ones."""
    triples = [(rng.randrange(SIZE), rng.randrange(RELATIONS), rng.randrange(SIZE))
               for _ in range(70)]
    graphs = []
    for label, shift in (("A", 0), ("B", 1)):
        g = MutableGraph(label, label)
        for i in range(SIZE):
            g.upsert(f"{label}{i:02d}", "", {"name": f"n{i}"} if i < SIZE // 2 else {})
        for r in range(RELATIONS):
            g.relation_id(f"{label}r{r}")
        for h, r, t in triples:
            if rng.random() < 0.2:
                h, t = rng.randrange(SIZE), rng.randrange(SIZE)
            g.add_triple(h, (r + shift) % RELATIONS, t)
        graphs.append(g)
    return graphs[0], graphs[1]


def _graph(g: MutableGraph) -> Graph:
    rows = sorted((h, r, t) for h in range(len(g.keys)) for r, t, _ in
                  ((p >> 32, p & 0xFFFFFFFF, 0) for p in g.out.ends(h)))
    names = [e.name if (e := g.entity(i)) is not None else "x" for i in range(len(g.keys))]
    return Graph(label=g.label, keys=list(g.keys), names=names, types=[""] * len(names),
                 attributes=[{} for _ in names], relations=list(g.relations),
                 triples=np.array(rows, dtype=np.int64).reshape(-1, 3))


def _decider() -> Any:
    return SimpleNamespace(forced_left={}, forced_right={}, matches={}, matched_right={})


def _started(stage: NeighbourhoodStage) -> Any:
    """A decider whose "model" matched the named half (``Ai`` to ``Bi``), followed once."""
    decider = _decider()
    for i in range(SIZE // 2):
        decider.matches[f"A{i:02d}"], decider.matched_right[f"B{i:02d}"] = f"B{i:02d}", f"A{i:02d}"
    stage.update(decider, (set(), set()), (set(decider.matches), set(decider.matched_right)))
    return decider


Steps = tuple[tuple[set[int], set[int]], tuple[set[str], set[str]], tuple[set[int], set[int]]]


def _expected(stage: NeighbourhoodStage, decider: Any, rounds: int, fanout: Fanout,
              prefer: Any) -> list[list[int]]:
    """The batch rule on the stage's graphs, anchors and relations (``prefer``: a set of
    preferred pairs or the tie-break itself; ``None``: no tie-break)."""
    ga, gb = stage.graphs
    alive = tuple(set(g.alive_indices()) for g in (ga, gb))
    anchors = [(ga.index[a], gb.index[b]) for a, b in decider.matches.items()]
    anchors += [(ga.index[a], gb.index[b]) for a, b in decider.forced_left.items()
                if decider.forced_right.get(b) == a]
    if isinstance(prefer, set):
        prefer = (lambda chosen: lambda a, b: (a, b) in chosen)(prefer)
    got = neighbourhood_matches(_graph(ga), _graph(gb), np.array(anchors).reshape(-1, 2),
                                rounds, fanout, stage.relations, prefer or never,
                                (alive[0], alive[1]) if stage.named else None)
    return sorted(got.tolist())


def _step(rng: random.Random, stage: NeighbourhoodStage, decider: Any,
          preferred: set[tuple[int, int]]) -> Steps:
    """One random change; what it touched, which keys' decisions may have moved and which
    pairs were rescored."""
    touched: tuple[set[int], set[int]] = (set(), set())
    keys: tuple[set[str], set[str]] = (set(), set())
    rescored: tuple[set[int], set[int]] = (set(), set())
    kind = rng.random()
    side = rng.randrange(2)
    g = stage.graphs[side]
    if kind < 0.35:
        for _ in range(rng.randrange(1, 6)):  # a refresh rescores several pairs
            pair = rng.randrange(SIZE), rng.randrange(SIZE)
            preferred.symmetric_difference_update({pair})
            rescored[0].add(pair[0])
            rescored[1].add(pair[1])
    elif kind < 0.65:
        h, r, t = rng.randrange(SIZE), rng.randrange(RELATIONS), rng.randrange(SIZE)
        if not g.add_triple(h, r, t):
            g.remove_triple(h, r, t)
        touched[side].update((h, t))
    elif kind < 0.72:
        i = rng.randrange(SIZE)
        entity = g.entity(i)
        g.upsert(g.keys[i], "", {} if entity and entity.name else {"name": "x"})
        touched[side].add(i)
    else:
        a, b = f"A{rng.randrange(SIZE):02d}", f"B{rng.randrange(SIZE):02d}"
        for t, k in ((decider.forced_left, decider.forced_right),
                     (decider.matches, decider.matched_right)):  # one-to-one, as the decider
            for left, right in ((a, t.get(a)), (k.get(b), b)):
                if left is not None and right is not None:
                    t.pop(left, None)
                    k.pop(right, None)
                    keys[0].add(left)
                    keys[1].add(right)
        table = decider.forced_left if kind < 0.8 else decider.matches
        back = decider.forced_right if kind < 0.8 else decider.matched_right
        if rng.random() < 0.8:
            table[a], back[b] = b, a
        keys[0].add(a)
        keys[1].add(b)
    return touched, keys, rescored


@pytest.mark.parametrize(("rounds", "fanout", "seed", "bulk", "named"),
                         [(1, Fanout(64, 16), 0, 0, False), (2, Fanout(64, 16), 1, 0, False),
                          (2, Fanout(5, 0), 2, 0, False), (3, Fanout(6, 2), 3, 0, False),
                          (2, Fanout(4, 1), 4, 0, False), (1, Fanout(3, 2), 5, 0, False),
                          (2, Fanout(64, 16), 6, 3, False), (3, Fanout(6, 2), 7, 5, False),
                          (2, Fanout(64, 16), 8, 0, True), (3, Fanout(6, 2), 9, 0, True),
                          (2, Fanout(4, 1), 10, 4, True)])
def test_the_stage_kept_under_change_equals_the_batch_rule(rounds: int, fanout: Fanout,
                                                           seed: int, bulk: int,
                                                           named: bool) -> None:
    """``bulk``: every ``bulk``-th refresh is a bulk one (tables rebuilt, not followed): the
    steps after it follow from the rebuilt tables and still equal the batch rule. ``named``:
    a named entity whose match is withdrawn (a step below) becomes eligible at once."""
    rng = random.Random(seed)
    preferred = {(a, b) for a in range(SIZE) for b in range(SIZE) if rng.random() < 0.2}
    stage = NeighbourhoodStage(_mirrors(rng), rounds, fanout, lambda a, b: (a, b) in preferred,
                               named)
    decider = _decider()
    for i in range(SIZE // 2):  # the named half matched by the "model", a few seeds
        decider.matches[f"A{i:02d}"], decider.matched_right[f"B{i:02d}"] = f"B{i:02d}", f"A{i:02d}"
    stage.update(decider, (set(), set()), (set(decider.matches), set(decider.matched_right)))
    assert stage.learnt_at[0] == SIZE // 2 and stage.relations
    matched = 0
    for step in range(400):
        stage.update(decider, *_step(rng, stage, decider, preferred),
                     bulk=bool(bulk) and step % bulk == 0)
        current = sorted([a, b] for a, (b, _) in stage.current().items())
        assert current == _expected(stage, decider, rounds, fanout, preferred)
        matched += len(current)
    assert matched > 300  # the rule matched something most of the time


def test_published_changes_follow_the_matches_with_readable_evidence() -> None:
    """A-side a4 —r0→ a2 and b4 —r0→ b2 with (a2, b2) anchored: one match, published with its
    evidence; withdrawing the anchor retracts it."""
    ga, gb = MutableGraph("A", "A"), MutableGraph("B", "B")
    for g in (ga, gb):
        for i in range(5):
            g.upsert(f"{g.label}{i}", "", {"name": f"n{i}"} if i < 4 else {})
        for h, t in ((0, 1), (1, 2), (4, 2)):
            g.add_triple(h, g.relation_id("r0"), t)
    stage = NeighbourhoodStage((ga, gb), 1)
    decider = _decider()
    decider.matches = {f"A{i}": f"B{i}" for i in range(4)}
    decider.matched_right = {f"B{i}": f"A{i}" for i in range(4)}
    made = stage.update(decider, ({4}, {4}), (set(decider.matches), set(decider.matched_right)))
    assert [(c.left, c.right, c.retract) for c in made] == [("A4", "B4", False)]
    (evidence,) = stage.evidence("A4", "B4", 3)
    assert (evidence.left_neighbour, evidence.right_neighbour, evidence.relation_left,
            evidence.relation_right, evidence.weight) == ("A2", "B2", "r0", "r0", 1.0)
    del decider.matches["A2"], decider.matched_right["B2"]
    gone = stage.update(decider, (set(), set()), ({"A2"}, {"B2"}))
    assert [(c.left, c.right, c.retract) for c in gone] == [("A4", "B4", True)]
    assert stage.published == {}


def _hub_corrected(scored: set[tuple[int, int]]) -> Any:
    """A tie-break that reads each entity's other pairs, as the hubness correction does: a
    scored pair ``(a, b)`` (its score a function of the pair) is preferred where it reaches 0.3
    and ``2·s`` beats the two entities' mean of their two best scores."""
    def score(a: int, b: int) -> float:
        return (a * 7 + b * 13) % 10 / 10

    def r(side: int, node: int) -> float:
        best = sorted((score(*p) for p in scored if p[side] == node), reverse=True)[:2]
        return sum(best) / len(best)

    return lambda a, b: ((a, b) in scored and score(a, b) >= 0.3
                         and 2 * score(a, b) > r(0, a) + r(1, b))


@pytest.mark.parametrize(("rounds", "seed", "named"), [(2, 11, False), (2, 12, True)])
def test_a_tie_break_reading_other_pairs_is_followed(rounds: int, seed: int,
                                                    named: bool) -> None:
    """Scoring a pair ``(a, c)`` moves ``(a, b)``'s tie-break too: the stage re-matches the
    pairs of a rescored entity's row and column, and still equals the batch rule."""
    rng = random.Random(seed)
    scored = {(a, b) for a in range(SIZE) for b in range(SIZE) if rng.random() < 0.2}
    prefer = _hub_corrected(scored)
    stage = NeighbourhoodStage(_mirrors(rng), rounds, Fanout(64, 16), prefer, named)
    decider = _started(stage)
    broken = 0
    for _ in range(300):
        stage.update(decider, *_step(rng, stage, decider, scored))
        current = sorted([a, b] for a, (b, _) in stage.current().items())
        assert current == _expected(stage, decider, rounds, Fanout(64, 16), prefer)
        broken += len(current) - len(_expected(stage, decider, rounds, Fanout(64, 16), None))
    assert broken > 0  # ties were broken, so the tie-break was exercised


def test_a_pair_scored_elsewhere_moves_a_tie_it_is_not_in() -> None:
    """a1 and a2 tie for b1 (both —r0→ the anchor A0, b1 —r0→ B0), and the model prefers both
    pairs, so nothing matches. Scoring (a1, B3) high raises a1's typical score: (a1, b1) is no
    longer preferred, the column's tie goes to a2 — though a2 and b1 were not rescored."""
    ga, gb = MutableGraph("A", "A"), MutableGraph("B", "B")
    for g in (ga, gb):
        for i in range(5):
            g.upsert(f"{g.label}{i}", "", {"name": "n"} if i in (0, 4) else {})
        g.add_triple(4, g.relation_id("r0"), 0)  # anchored: r0 corresponds to r0
    ga.add_triple(1, ga.relation_id("r0"), 0)
    ga.add_triple(2, ga.relation_id("r0"), 0)
    gb.add_triple(1, gb.relation_id("r0"), 0)
    scores = {(1, 1): 0.8, (2, 1): 0.8, (1, 2): 0.2, (2, 2): 0.2}

    def r(side: int, node: int) -> float:
        best = sorted((s for p, s in scores.items() if p[side] == node), reverse=True)[:2]
        return sum(best) / len(best)

    def prefer(a: int, b: int) -> bool:
        s = scores.get((a, b), 0.0)
        return s >= 0.3 and 2 * s > r(0, a) + r(1, b)

    stage = NeighbourhoodStage((ga, gb), 1, prefer=prefer)
    decider = _decider()
    decider.matches = {"A0": "B0", "A4": "B4"}
    decider.matched_right = {"B0": "A0", "B4": "A4"}
    assert stage.update(decider, ({1, 2}, {1}), ({"A0", "A4"}, {"B0", "B4"})) == []
    scores[1, 3] = 0.9
    made = stage.update(decider, (set(), set()), (set(), set()), ({1}, {3}))
    assert [(c.left, c.right, c.retract) for c in made] == [("A2", "B1", False)]


def _tables(stage: NeighbourhoodStage) -> list[tuple[Any, ...]]:
    """Every round's anchors both ways, the anchors within the hub bound, both support tables
    and the matches both ways."""
    return [(layer.anchors, layer.anchors_b, layer.active, list(layer.support.rows.items()),
             list(layer.support.cols.items()), layer.matches, layer.matched_b)
            for layer in stage.layers]


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize(("rounds", "fanout", "seed", "named"),
                         [(2, Fanout(64, 16), 20, False), (3, Fanout(6, 2), 21, False),
                          (2, Fanout(4, 1), 22, True), (1, Fanout(3, 0), 23, True)])
def test_a_rebuild_built_as_arrays_holds_the_followed_tables(rounds: int, fanout: Fanout,
                                                             seed: int, named: bool,
                                                             batched: bool) -> None:
    """After random changes, a bulk refresh's tables (each round one join of the anchors'
    edges) equal those of following every anchor from empty tables, entry for entry: the
    anchors, the hub-bound anchors, both support tables and the matches of every round.
    ``batched``: the rebuild asks its ties of a ``prefer_many`` (every tie of a round's rows,
    then of its columns, in one call), the followed tables ask ``prefer`` one pair at a time."""
    rng = random.Random(seed)
    preferred = {(a, b) for a in range(SIZE) for b in range(SIZE) if rng.random() < 0.3}
    asked: list[int] = []

    def prefer_many(lefts: np.ndarray, rights: np.ndarray) -> np.ndarray:
        asked.append(len(lefts))
        return setops.isin(lefts << 32 | rights,
                           np.array(sorted(a << 32 | b for a, b in preferred), dtype=np.int64))

    stage = NeighbourhoodStage(_mirrors(rng), rounds, fanout, lambda a, b: (a, b) in preferred,
                               named, prefer_many if batched else None)
    decider = _started(stage)
    compared = 0
    for step in range(120):
        stage.update(decider, *_step(rng, stage, decider, preferred), bulk=step % 4 == 0)
        if step % 4:
            continue
        built = _tables(stage)
        stage.layers = [stage._new_layer() for _ in stage.layers]
        stage._follow({x: (None, y) for x, y in stage._anchors(decider).items()},
                      (set(), set()), [])
        assert built == _tables(stage), f"step {step}"
        compared += sum(len(layer.matches) for layer in stage.layers)
    assert compared > 30  # the rounds matched something
    assert not batched or sum(asked) > 10  # ties were asked of the batch


@pytest.mark.parametrize("seed", [30, 31, 32])
def test_relations_learnt_as_a_join_equal_the_counted_ones(seed: int) -> None:
    """The relations a rebuild learns (one join of anchored triples) equal
    ``corresponding_relations`` counted triple by triple, ties included, under random
    anchors that are not one-to-one everywhere."""
    rng = random.Random(seed)
    ga, gb = _mirrors(rng)
    for g in (ga, gb):  # more relations, so that images tie and compete
        for _ in range(60):
            g.add_triple(rng.randrange(SIZE), g.relation_id(f"x{rng.randrange(4)}"),
                         rng.randrange(SIZE))
    anchors = {a: a if rng.random() < 0.8 else rng.randrange(SIZE)
               for a in rng.sample(range(SIZE), 30)}
    expected = corresponding_relations(Adjacency(ga), Adjacency(gb), anchors)
    assert relations_learnt((ga, gb), anchors) == expected
    assert len(expected) >= RELATIONS
