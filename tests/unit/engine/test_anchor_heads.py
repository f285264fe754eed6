"""The engine's shared-anchor candidates stay equal to a fresh computation (decision 0045)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, synthetic_pair, untrained_bundle

from stream_align.anchor_candidates import heads, table_side
from stream_align.engine import packed
from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import TripleChange, TripleOp
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.model.scorer import ModelScorer

torch.set_num_threads(1)
M, CAP = 3, 4


def anchored_pair() -> tuple[GraphPair, ModelBundle]:
    """The synthetic pair with 20 anchors (the hub 0 sampled by many: gated at CAP)."""
    pair = synthetic_pair()
    gold = np.concatenate([pair.train, pair.valid, pair.test])
    pair = replace(pair, train=gold[:20], valid=gold[20:24], test=gold[24:])
    return pair, untrained_bundle(pair)


@pytest.fixture(scope="module")
def anchored() -> tuple[GraphPair, ModelBundle]:
    return anchored_pair()


def _scratch(engine: AlignmentEngine, s: int) -> np.ndarray:
    """Side ``s``'s heads computed from nothing but the engine's current samples."""
    n_anchors = len(engine.bundle.frozen.anchors)
    tables = []
    for side in engine.sides:
        nodes = np.arange(len(side.graph.keys))
        tables.append((side.samples.slot_table(nodes)[0], side.anchor_ids(nodes),
                       side.graph.keys))
    views = [table_side(tables[t][0], tables[t][1], tables[1 - t][1], n_anchors, tables[t][2])
             for t in (0, 1)]
    return heads(tables[s][0], views[s], views[1 - s], CAP, M)


def _check(engine: AlignmentEngine) -> None:
    assert engine.anchors is not None
    for s in (0, 1):
        expected = _scratch(engine, s)
        kept = np.full(expected.shape, -1)
        rows = min(len(kept), len(engine.anchors._head[s]))
        kept[:rows] = engine.anchors._head[s][:rows]
        assert (kept == expected).all(), f"side {s}"


def _streamed(pair: GraphPair, bundle: ModelBundle, seed: int, batch: int, check: bool
              ) -> tuple[AlignmentEngine, list[TripleChange]]:
    """The pair's shuffled changes through a fresh engine, ``batch`` at a time (each batch's
    heads checked against a fresh computation with ``check``)."""
    engine = AlignmentEngine.empty(bundle, engine_settings(anchor_candidates=M,
                                                           anchor_fanout=CAP))
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=seed))
    for start in range(0, len(changes), batch):
        engine.process(changes[start:start + batch], [])
        if check:
            _check(engine)
    return engine, changes


def _removal(change: TripleChange) -> TripleChange:
    return TripleChange.new(graph=change.graph, op=TripleOp.REMOVE_TRIPLE, head=change.head,
                            relation=change.relation, tail=change.tail)


def test_heads_follow_every_batch_of_adds_and_removals(anchored) -> None:
    """Fails if a row the rule says can move is not recomputed (a moved anchor's samplers,
    its partner's samplers, a fan crossing the cap)."""
    pair, bundle = anchored
    engine, changes = _streamed(pair, bundle, seed=5, batch=20, check=True)
    triples = [c for c in changes if c.op is TripleOp.ADD_TRIPLE]
    rng = np.random.default_rng(0)
    for _ in range(10):
        picked = rng.choice(len(triples), 6, replace=False)
        engine.process([_removal(triples[i]) for i in picked.tolist()], [])
        _check(engine)
    assert any((h >= 0).any() for h in engine.anchors._head)


def test_a_whole_stream_lists_the_batch_aligners_pairs(anchored) -> None:
    """After the whole pair streamed, each entity's heads are the batch scorer's (by key)."""
    pair, bundle = anchored
    engine, _ = _streamed(pair, bundle, seed=2, batch=40, check=False)
    scorer = ModelScorer(bundle, pair)
    for s, graph in enumerate((pair.a, pair.b)):
        other = (pair.b, pair.a)[s]
        batch = scorer.anchor_heads(s, np.arange(graph.num_entities), M, CAP)
        side, far = engine.sides[s], engine.sides[1 - s]
        for node, row in enumerate(batch.tolist()):
            mine = side.graph.index[graph.keys[node]]
            kept = engine.anchors._head[s][mine].tolist() if mine < len(
                engine.anchors._head[s]) else [-1] * M
            assert [far.graph.keys[x] for x in kept if x >= 0] == \
                [other.keys[x] for x in row if x >= 0]


def _book_pairs(engine: AlignmentEngine) -> set[tuple[int, int]]:
    lefts, rights, _ = engine.book.arrays()
    return set(zip(lefts.tolist(), rights.tolist(), strict=True))


def _wanted_pairs(engine: AlignmentEngine) -> set[tuple[int, int]]:
    """Every pair of indexed entities one of which lists the other or holds it in its
    shared-anchor heads (no labels here): what a batch computation scores."""
    a, b = engine.sides
    lefts, rights = np.meshgrid(a.indexed(), b.indexed(), indexing="ij")
    lefts, rights = lefts.ravel(), rights.ravel()
    keep = engine.scores._wanted(lefts, rights)
    return set(zip(lefts[keep].tolist(), rights[keep].tolist(), strict=True))


def _drained(engine: AlignmentEngine, changes: list[TripleChange]) -> None:
    """``changes``, then input-free calls until nothing waits (the book is a batch
    computation's at quiescence: ``pairs``)."""
    engine.process(changes, [])
    while engine.pending_count:  # in calls of ``max_affected_per_batch``: first vectors
        engine.process([], [])  # of entities the heads held while they waited


def test_the_book_holds_every_head_pair_with_pools_read_for_first_vectors_alone(
        anchored) -> None:
    """The scores stage is handed the pool pairs of the entities indexed for the first time
    only (decision 0124): after every batch and its drain — entities arriving, their vectors
    queued while rows hold them, and later removals that recompute entities which keep their
    vectors — the book holds exactly the wanted pairs.
    Fails where a head pair of a newly indexed entity is missing or a dropped one stays."""
    pair, bundle = anchored
    engine = AlignmentEngine.empty(bundle, engine_settings(
        anchor_candidates=M, anchor_fanout=CAP, max_affected_per_batch=6, rebuild_share=1.0))
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=3))
    for start in range(0, len(changes), 30):  # vectors queued: heads hold unindexed entities
        _drained(engine, changes[start:start + 30])
        assert _book_pairs(engine) == _wanted_pairs(engine), start
    triples = [c for c in changes if c.op is TripleOp.ADD_TRIPLE]
    heads_only = _wanted_pairs(engine) - {
        (u, v) for u, v in _wanted_pairs(engine)
        if engine.sides[0].lists.holds(np.array([u]), np.array([v]))[0]
        or engine.sides[1].lists.holds(np.array([v]), np.array([u]))[0]}
    assert heads_only  # the heads add pairs the lists do not hold
    for i in range(0, 24, 6):
        _drained(engine, [_removal(t) for t in triples[i:i + 6]])
        assert _book_pairs(engine) == _wanted_pairs(engine), i


def test_pools_are_read_for_first_vectors_alone(anchored) -> None:
    """``update`` hands over every pair of a row holding an entity indexed for the first
    time (from its pool), and nothing for entities that are not: fails where a head pair of
    a new vector would never be checked, or where the recomputed entities' pools came back."""
    pair, bundle = anchored
    engine, _ = _streamed(pair, bundle, seed=2, batch=40, check=False)
    heads = engine.anchors
    assert heads is not None
    rows = heads.rows(0, np.arange(len(engine.sides[0].graph.keys)))
    held = np.flatnonzero((rows >= 0).any(axis=1))
    x = int(rows[held[0]][0])  # a right entity some left row holds
    holders = np.flatnonzero((rows == x).any(axis=1))
    pairs = set(zip(*(a.tolist() for a in packed.split(heads.update((set(), {x})))),
                    strict=True))
    assert {(int(y), x) for y in holders} <= pairs
    assert not len(heads.update((set(), set())))  # no sample moved, no first vector
