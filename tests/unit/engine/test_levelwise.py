"""The level-wise recompute (decision 0095) gives the local encode's vectors and kept rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.engine.batch_align import align
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.levelwise import encode_levelwise, supported
from stream_align.engine.recompute import encode_local, row_vectors
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import TripleChange
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings

torch.set_num_threads(1)


def _queued_engine(pair: GraphPair, bundle: ModelBundle, budget: int) -> AlignmentEngine:
    """One bulk call over the whole pair, most embeddings left queued."""
    engine = AlignmentEngine.empty(bundle, engine_settings(max_affected_per_batch=budget))
    engine.process(list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=1)), [])
    return engine


@torch.no_grad()
def _local(bundle: ModelBundle, engine: AlignmentEngine, s: int, nodes: list[int],
           stale: set[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    side = engine.sides[s]
    local = encode_local(bundle, side.samples, nodes, side.features, kept=(side.level1, stale),
                         anchors=side.anchor_ids)
    rows = local.globals[local.level1]
    return (row_vectors(bundle, local, local.rows(nodes), side.query), rows,
            local.enc.h1[torch.from_numpy(local.level1)].numpy())


@pytest.mark.parametrize(("seed", "name_block"), [(0, "own"), (1, "own"), (2, "permuted")])
def test_levelwise_vectors_and_kept_rows_equal_the_local_encode(seed: int,
                                                                 name_block: str) -> None:
    """Chunks of queued nodes (stale neighbours encoded, the others read from the cache):
    the same vectors and ``h1`` rows as the local encode, to float rounding, and each node's
    ``h0`` row is computed once across the chunks; the names block read either way
    (decision 0101)."""
    pair = synthetic_pair(n=60, seed=seed)
    bundle = untrained_bundle(pair, seed=seed, name_block=name_block)
    assert supported(bundle)
    engine = _queued_engine(pair, bundle, budget=20)
    for s, side in enumerate(engine.sides):
        pending = engine.pending[s]
        queued = sorted(pending, key=pending.__getitem__)
        stale = set(queued)
        assert len(queued) > 20
        for chunk in (queued[:7], queued[7:30], queued[30:]):
            want, rows, h1 = _local(bundle, engine, s, chunk, stale)
            got = encode_levelwise(bundle, side, chunk, stale)
            assert got.shape == want.shape
            assert np.abs(got - want).max() < 1e-6
            assert np.abs(side.level1.rows(rows.tolist())[:-1].numpy() - h1).max() < 1e-6
        assert side.level0.nbytes() > 0


def test_levelwise_encodes_each_queued_h1_once_a_drain() -> None:
    """A neighbour's ``h1`` put by one chunk is current until its node is affected: the later
    chunks read it (each row is put once across the chunks), and the vectors stay the local
    encode's, which encodes every stale neighbour again."""
    pair = synthetic_pair(n=60, seed=5)
    bundle = untrained_bundle(pair, seed=5)
    engine = _queued_engine(pair, bundle, budget=20)
    side = engine.sides[0]
    pending = engine.pending[0]
    queued = sorted(pending, key=pending.__getitem__)
    stale = set(queued)
    puts: list[np.ndarray] = []
    put = side.level1.put
    side.level1.put = lambda nodes, h1: (puts.append(nodes.copy()), put(nodes, h1))[1]
    for lo in range(0, len(queued), 6):
        chunk = queued[lo:lo + 6]
        want, _, _ = _local(bundle, engine, 0, chunk, stale)  # puts nothing
        got = encode_levelwise(bundle, side, chunk, stale)
        assert np.abs(got - want).max() < 1e-6
    encoded = np.concatenate(puts)
    assert len(puts) > 1 and len(np.unique(encoded)) == len(encoded)
    assert side.level1.current(np.array(queued)).all()
    side.level1.put = put


def test_an_affected_node_is_encoded_again() -> None:
    """Rows put during a drain, then a rename: the renamed node's readers are affected, their
    kept ``h1`` outdated (``LevelOneCache.outdate``), so a chunk that samples them encodes
    them again and still equals the local encode."""
    pair = synthetic_pair(n=60, seed=6)
    bundle = untrained_bundle(pair, seed=6)
    engine = _queued_engine(pair, bundle, budget=4)
    side = engine.sides[0]
    queued = sorted(engine.pending[0], key=engine.pending[0].__getitem__)
    encode_levelwise(bundle, side, queued, set(queued))
    assert side.level1.current(np.array(queued)).all()
    x = max(side.graph.alive_indices(), key=lambda n: len(side.graph.inn.ends(n)))
    engine.process([TripleChange.upsert_entity("A", side.graph.keys[x],
                                               attributes={"name": "wholly new"})], [])
    readers = {n for n in side.graph.alive_indices() if x in side.samples.closure([n])}
    stale = set(engine.pending[0])
    assert len(readers & stale) > 10  # the readers' kept rows are outdated, most still queued
    chunk = sorted(stale, key=engine.pending[0].__getitem__)
    want, _, _ = _local(bundle, engine, 0, chunk, stale)
    got = encode_levelwise(bundle, side, chunk, stale)
    assert np.abs(got - want).max() < 1e-6


def test_levelwise_h0_rows_follow_a_new_name_and_type() -> None:
    """A kept ``h0`` row is valid for its node's stamp and type: after an upsert or a triple
    that changes them, the level-wise vectors still equal the local encode's."""
    pair = synthetic_pair(n=60, seed=4)
    bundle = untrained_bundle(pair, seed=4)
    engine = _queued_engine(pair, bundle, budget=100_000)
    side = engine.sides[0]
    nodes = list(range(30))
    encode_levelwise(bundle, side, nodes, set())
    before = side.level0.rows(bundle, side, np.array([3])).clone()
    key = side.graph.keys[3]
    other = side.graph.keys[5]
    relation = pair.a.relations[0]
    engine.process([TripleChange.upsert_entity("A", key, attributes={"name": "wholly new"}),
                    TripleChange.add_triple("A", key, relation, other)], [])
    stale = set(engine.pending[0])
    want, _, _ = _local(bundle, engine, 0, nodes, stale)
    got = encode_levelwise(bundle, side, nodes, stale)
    assert np.abs(got - want).max() < 1e-6
    assert not torch.equal(side.level0.rows(bundle, side, np.array([3])), before)


def test_levelwise_is_not_used_for_two_hop_blocks() -> None:
    """Structural blocks read the 2-hop sample: such a model keeps the local encode."""
    pair = synthetic_pair(n=40, seed=0)
    assert not supported(untrained_bundle(pair, structure_dim=32))


def _stream(tmp: Path, bundle: ModelBundle, changes: list[TripleChange],
            **overrides: object) -> AlignmentEngine:
    engine = AlignmentEngine.empty(bundle, engine_settings(**overrides))
    with open_store(tmp) as store:
        run(store, engine, changes, batch=60)
        while engine.pending_count:
            run(store, engine, [])
    return engine


def test_levelwise_drain_agrees_with_local_and_batch(tmp_path: Path, pair: GraphPair,
                                                     bundle: ModelBundle) -> None:
    """A bounded stream drained level-wise ends where the local encode's and the batch
    aligner end; the ``h0`` rows are dropped once the queue is drained."""
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    levelwise = _stream(tmp_path / "l", bundle, changes, max_affected_per_batch=9,
                        recompute_levelwise_from=1)
    local = _stream(tmp_path / "o", bundle, changes, max_affected_per_batch=9)
    got, want = levelwise.final_alignment(), local.final_alignment()
    batch = {m.left: (m.right, m.score) for m in align(
        ModelScorer(bundle, pair), AlignSettings(candidates=3, threshold=0.3, evidence=0))}
    for other in (want, batch):
        assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in other.items()}
        assert max((abs(got[k][1] - other[k][1]) for k in got), default=0.0) < 1e-5
    assert all(side.level0.nbytes() == 0 for side in levelwise.sides)


@pytest.mark.parametrize("levelwise_from", [0, 1])
def test_a_call_of_several_chunks_drains_exactly(levelwise_from: int) -> None:
    """A drain call that recomputes more than a chunk of a side: no chunk reads the kept,
    outdated ``h1`` of a queued node a later chunk of the same call recomputes (before
    decision 0102 graph B's vectors ended 0.04 away from one call's)."""
    pair = synthetic_pair(n=60, seed=3)
    bundle = untrained_bundle(pair, seed=3)
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=1))

    def drained(**overrides: object) -> AlignmentEngine:
        engine = AlignmentEngine.empty(bundle, engine_settings(**overrides))
        engine.process(changes[:len(changes) // 2], [])
        engine.process(changes[len(changes) // 2:], [])
        while engine.pending_count:
            engine.process([], [])
        return engine

    one = drained(max_affected_per_batch=100_000)
    chunked = drained(max_affected_per_batch=40, recompute_chunk=5,
                      recompute_levelwise_from=levelwise_from)
    for want, got in zip(one.sides, chunked.sides, strict=True):
        nodes = sorted(want.graph.alive_indices())
        assert np.abs(want.vectors(nodes) - got.vectors(nodes)).max() < 1e-6
