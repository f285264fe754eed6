"""Pair scores from indexed vectors and kept ``h1`` rows equal the full-graph pair scores."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.level1_cache import LevelOneCache
from stream_align.engine.scoring import score_pairs
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import TripleChange
from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import CGMuAlign
from stream_align.model.pair_head import PairHead
from stream_align.model.scorer import ModelScorer
from stream_align.service.engine_state import StoredState

torch.set_num_threads(1)


def _bce(bundle: ModelBundle) -> ModelBundle:
    """The same model read out with BCE (per-dimension weights, a bias), weights perturbed."""
    net = CGMuAlign(bundle.frozen, bundle.arch, "bce")
    net.load_state_dict(bundle.net.state_dict())
    with torch.no_grad():
        net.bce_weight.mul_(torch.linspace(0.5, 1.5, len(net.bce_weight)))
        net.bce_bias.fill_(-1.0)
    net.eval()
    return ModelBundle(net=net, frozen=bundle.frozen, arch=bundle.arch, train=bundle.train,
                       version="test-bce")


#: A pair head that weighs every feature (decision 0024), for parity tests.
HEAD = PairHead(weights=(2.0, 1.5, 1.0, 1.0, 1.0, 0.5, 1.0, 0.5, 1.5), bias=-2.5)


@pytest.mark.parametrize(("loss", "head"), [("hinge", None), ("bce", None), ("hinge", HEAD),
                                            ("bce", HEAD)])
def test_score_pairs_equals_the_full_graph_pair_scores(tmp_path: Path, loss: str,
                                                        head: PairHead | None) -> None:
    """Streamed pair scores (and with a pair head, its evidence read from the samples and the
    name cache) equal the batch scorer's over the whole graph."""
    pair = synthetic_pair()
    bundle = untrained_bundle(pair)
    bundle = replace(_bce(bundle) if loss == "bce" else bundle, pair_head=head)
    engine = AlignmentEngine.empty(bundle, engine_settings())
    with open_store(tmp_path) as store:
        run(store, engine, list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=1)), batch=40)
    rng = np.random.default_rng(0)
    gold = pair.test.tolist() + rng.integers(0, pair.a.num_entities, (40, 2)).tolist()
    ga, gb = engine.sides[0].graph, engine.sides[1].graph
    nodes = [(ga.index[pair.a.keys[a]], gb.index[pair.b.keys[b]]) for a, b in gold]
    scores, explained = score_pairs(bundle, engine.sides, nodes, chunk=16, evidence=2)
    full, batch = ModelScorer(bundle, pair).pair_scores(np.array([a for a, _ in gold]),
                                                        np.array([b for _, b in gold]),
                                                        evidence=2)
    assert np.abs(scores - full).max() < 1e-5
    assert any(explained)
    for (a, b), found, offline in zip(nodes, explained, batch, strict=True):
        for e in found:  # evidence names sampled neighbours of the pair's own entities
            assert e.left in engine.sides[0].samples.sampled(a)
            assert e.right in engine.sides[1].samples.sampled(b)
            assert 0 < e.weight <= 1
        # One definition: the service's evidence is the batch aligner's, keys for indices.
        assert [(ga.keys[e.left], gb.keys[e.right], e.relation_left, e.relation_right)
                for e in found] == [(pair.a.keys[e.left], pair.b.keys[e.right],
                                     e.relation_left, e.relation_right) for e in offline]
        assert np.allclose([e.weight for e in found], [e.weight for e in offline], atol=1e-5)


def test_without_cross_attention_pair_scores_are_retrieval_scores(tmp_path: Path) -> None:
    """The re-rank is optional: a model trained without α is scored from the indexed vectors
    (no ``h1`` read), and the scores are still the full-graph pair scores."""
    pair = synthetic_pair()
    bundle = untrained_bundle(pair, cross_attention=False)
    engine = AlignmentEngine.empty(bundle, engine_settings())
    with open_store(tmp_path) as store:
        run(store, engine, list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=1)), batch=40)
    ga, gb = engine.sides[0].graph, engine.sides[1].graph
    nodes = [(ga.index[pair.a.keys[a]], gb.index[pair.b.keys[b]]) for a, b in pair.test]
    engine.sides[0].level1.drop([a for a, _ in nodes])
    scores, _ = score_pairs(bundle, engine.sides, nodes, chunk=16)
    assert engine.sides[0].level1.missing([a for a, _ in nodes])  # nothing was encoded
    scorer = ModelScorer(bundle, pair)
    full = scorer.pair_scores(pair.test[:, 0], pair.test[:, 1])[0]
    retrieval = (scorer.query[pair.test[:, 0]] * scorer.base[pair.test[:, 1]]).sum(1)
    assert np.abs(scores - full).max() < 1e-5 and np.abs(full - retrieval).max() < 1e-5


def test_score_pairs_encodes_what_no_recompute_kept(tmp_path: Path) -> None:
    """A restored engine has no kept ``h1``: the first scores encode them, and agree."""
    pair = synthetic_pair()
    bundle = untrained_bundle(pair)
    engine = AlignmentEngine.empty(bundle, engine_settings())
    with open_store(tmp_path) as store:
        run(store, engine, list(triple_changes(pair, ReplayOrder.FILE)))
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx), engine_settings())
    keys = sorted(engine.book.scores)
    lefts = [restored.sides[0].graph.index[a] for a, _ in keys]
    assert restored.sides[0].level1.missing(lefts)  # scores read, not re-scored (0033)

    def scores(e: AlignmentEngine) -> np.ndarray:
        ga, gb = e.sides[0].graph, e.sides[1].graph
        return score_pairs(bundle, e.sides, [(ga.index[a], gb.index[b]) for a, b in keys],
                           chunk=8)[0]

    live, again = scores(engine), scores(restored)
    assert not restored.sides[0].level1.missing(lefts)  # the first scores encoded them
    assert np.abs(live - again).max() < 1e-6


def test_level_one_cache_keeps_forgets_and_pads() -> None:
    cache = LevelOneCache()
    cache.put(np.array([2, 5]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert cache.missing([5, 0, 2, 9000]) == [0, 9000]
    cache.drop([5])
    assert cache.missing([2, 5]) == [5]
    rows = cache.rows([2])
    assert rows.tolist() == [[1.0, 2.0], [0.0, 0.0]]  # the padding row last


def test_slot_table_equals_each_nodes_slots(tmp_path: Path) -> None:
    """The arrays the pair rows and views are built from are the samples' own slots."""
    pair = synthetic_pair()
    engine = AlignmentEngine.empty(untrained_bundle(pair), engine_settings())
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    gone = next(c.head for c in changes if c.graph == "A")
    with open_store(tmp_path) as store:
        run(store, engine, [*changes, TripleChange.delete_entity("A", gone)])
    for side in engine.sides:
        nodes = np.arange(len(side.graph.keys) + 2)  # two past every node: no slots
        nbr, rel = side.samples.slot_table(nodes)
        for n in nodes.tolist():
            slots = side.samples.slots(n)
            assert nbr[n, :len(slots)].tolist() == [y for y, _ in slots]
            assert rel[n, :len(slots)].tolist() == [r for _, r in slots]
            assert (nbr[n, len(slots):] == -1).all() and (rel[n, len(slots):] == 0).all()
