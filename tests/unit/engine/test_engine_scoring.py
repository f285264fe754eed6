"""Pair scores from indexed vectors and kept ``h1`` rows equal the full-graph pair scores."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import (
    engine_settings,
    forget_level1,
    open_store,
    run,
    synthetic_pair,
    untrained_bundle,
)

from stream_align.engine import scoring
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.level1_cache import LevelOneCache
from stream_align.engine.pair_features import FeatureCache
from stream_align.engine.scoring import group_spans, pair_evidence, score_pairs
from stream_align.engine.threads import TwoEnds, second_threads, torch_on_one_thread
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import TripleChange
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import CGMuAlign
from stream_align.model.layers.collective_agg import Messages
from stream_align.model.pair_head import PairHead
from stream_align.model.scorer import ModelScorer
from stream_align.service.engine_state import StoredState

torch.set_num_threads(1)


def _loaded(tmp_path: Path, pair: GraphPair, bundle: ModelBundle,
            **settings: object) -> AlignmentEngine:
    """An engine of ``bundle`` with ``pair``'s triples applied (shuffled, batches of 40)."""
    engine = AlignmentEngine.empty(bundle, engine_settings(**settings))
    with open_store(tmp_path) as store:
        run(store, engine, list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=1)), batch=40)
    return engine


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
    engine = _loaded(tmp_path, pair, bundle)
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
    engine = _loaded(tmp_path, pair, bundle)
    ga, gb = engine.sides[0].graph, engine.sides[1].graph
    nodes = [(ga.index[pair.a.keys[a]], gb.index[pair.b.keys[b]]) for a, b in pair.test]
    engine.sides[0].level1.drop([a for a, _ in nodes])
    scores, _ = score_pairs(bundle, engine.sides, nodes, chunk=16)
    assert engine.sides[0].level1.missing([a for a, _ in nodes])  # nothing was encoded
    scorer = ModelScorer(bundle, pair)
    full = scorer.pair_scores(pair.test[:, 0], pair.test[:, 1])[0]
    retrieval = (scorer.query[pair.test[:, 0]] * scorer.base[pair.test[:, 1]]).sum(1)
    assert np.abs(scores - full).max() < 1e-5 and np.abs(full - retrieval).max() < 1e-5


@pytest.mark.parametrize("ivf", [False, True])
def test_pair_vectors_are_read_once_per_entity_and_cut_per_pair(tmp_path: Path,
                                                                ivf: bool) -> None:
    """Each group reads its distinct entities' indexed vectors once and cuts them per pair
    (decision 0112): the scores are the bits of reading every pair's two vectors, with
    entities repeated in any order and IVF's half-float codes decoded."""
    pair = synthetic_pair()
    bundle = untrained_bundle(pair, cross_attention=False)
    ivf_settings = {"candidate_index": "ivf", "ivf_train_min": 80, "ivf_cells": 8,
                    "ivf_probe": 2, "ivf_float16": True} if ivf else {}
    engine = _loaded(tmp_path, pair, bundle, **ivf_settings)
    ga, gb = engine.sides[0].graph, engine.sides[1].graph
    rng = np.random.default_rng(2)
    nodes = np.array([(ga.index[pair.a.keys[a]], gb.index[pair.b.keys[b]])
                      for a, b in rng.integers(0, 12, (200, 2)).tolist()])  # each ≈ 17 times
    lefts, rights = nodes[:, 0].tolist(), nodes[:, 1].tolist()
    if ivf:
        assert engine.sides[0].index.float16 and len(engine.sides[0].index) > 0
    each = (torch.from_numpy(engine.sides[0].vectors(lefts))
            * torch.from_numpy(engine.sides[1].vectors(rights))).sum(-1).numpy()
    scores, _ = score_pairs(bundle, engine.sides, nodes.tolist(), chunk=16)
    assert scores.tobytes() == each.tobytes()


def test_score_pairs_encodes_what_no_recompute_kept(tmp_path: Path) -> None:
    """A restored engine not warmed (``restore_warm_entities=0``, decision 0104) from a state
    without stored rows (before decision 0135) has no kept ``h1``: the first scores encode
    them, and agree."""
    pair = synthetic_pair()
    bundle = untrained_bundle(pair)
    engine = AlignmentEngine.empty(bundle, engine_settings())
    with open_store(tmp_path) as store:
        run(store, engine, list(triple_changes(pair, ReplayOrder.FILE)))
        forget_level1(store, engine_settings().graph_ids, bundle.version)
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx),
                                               engine_settings(restore_warm_entities=0))
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


def test_groups_are_as_long_as_their_bounds_allow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each group holds at most ``GROUP_ENTITIES`` distinct entities a side and ``GROUP_PAIRS``
    pairs; the groups cover the pairs in order, and each ends only where one more pair would
    pass a bound (so a small graph's refresh is one group: each view built once)."""
    monkeypatch.setattr(scoring, "GROUP_ENTITIES", 5)
    monkeypatch.setattr(scoring, "GROUP_PAIRS", 40)
    rng = np.random.default_rng(3)
    for lefts, rights in [(rng.integers(0, 30, 200), rng.integers(0, 30, 200)),
                          (np.repeat(np.arange(40), 5), rng.integers(0, 6, 200)),
                          (np.zeros(100, dtype=np.int64), np.zeros(100, dtype=np.int64)),
                          (rng.integers(7, 12, 200), rng.integers(0, 5, 200)),  # a small span
                          (np.arange(3), np.arange(3))]:
        nodes = np.stack([lefts, rights], axis=1).astype(np.int64)
        spans = group_spans(nodes)
        assert [s.start for s in spans] == [0] + [s.stop for s in spans[:-1]]
        assert spans[-1].stop == len(nodes)
        for span in spans:
            part = nodes[span]
            assert 0 < len(part) <= 40
            assert all(len(np.unique(part[:, c])) <= 5 for c in (0, 1))
            if span.stop < len(nodes) and len(part) < 40:  # one more pair passes a bound
                more = nodes[span.start:span.stop + 1]
                assert max(len(np.unique(more[:, c])) for c in (0, 1)) > 5
    assert group_spans(np.zeros((0, 2), dtype=np.int64)) == []


@pytest.mark.parametrize("head", [None, HEAD])
def test_scores_and_evidence_are_the_same_bits_in_any_grouping(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head: PairHead | None) -> None:
    """A pair's score and evidence are functions of the pair alone: groups and blocks of any
    length give the same bits (each entity's rows, messages and view are built once a group
    and cut per pair), and so does torch on two threads."""
    pair = synthetic_pair()
    bundle = replace(untrained_bundle(pair), pair_head=head)
    engine = _loaded(tmp_path, pair, bundle)
    rng = np.random.default_rng(1)
    ga, gb = engine.sides[0].graph, engine.sides[1].graph
    nodes = [(ga.index[pair.a.keys[a]], gb.index[pair.b.keys[b]])
             for a, b in rng.integers(0, pair.a.num_entities, (90, 2)).tolist()]
    whole, explained = score_pairs(bundle, engine.sides, nodes, chunk=16, evidence=3)
    torch.set_num_threads(2)
    try:
        two = score_pairs(bundle, engine.sides, nodes, chunk=16, evidence=3)
    finally:
        torch.set_num_threads(1)
    monkeypatch.setattr(scoring, "GROUP_ENTITIES", 4)
    monkeypatch.setattr(scoring, "PAIR_BLOCK", 7)
    assert len(group_spans(np.asarray(nodes))) > 5
    for side in engine.sides:
        side.views.forget(range(len(side.graph.keys)))  # built again, in the small groups
    cut, cut_explained = score_pairs(bundle, engine.sides, nodes, chunk=16, evidence=3)
    assert whole.tobytes() == cut.tobytes() == two[0].tobytes()
    assert explained == cut_explained == two[1]
    assert pair_evidence(bundle, engine.sides, nodes, 16, 3) == explained
    monkeypatch.setattr(scoring, "BESIDE_BLOCK", 3)  # work beside: shorter attention passes
    assert pair_evidence(bundle, engine.sides, nodes, 16, 3, beside_work=True) == explained


def test_passes_beside_divide_the_passes_alone() -> None:
    """Attention passes while work runs beside cut each pass of ``PAIR_BLOCK`` into whole
    passes of a multiple of 64 pairs: each pair keeps its offset modulo torch's vector width
    and the last pass ends where the group does, so the logits keep their bits (decision
    0103: passes of 1, 3 or 17 pairs moved some logits of the 40K grown set by an ulp)."""
    assert scoring.PAIR_BLOCK % scoring.BESIDE_BLOCK == 0
    assert scoring.BESIDE_BLOCK % 64 == 0 and scoring.BESIDE_BLOCK < scoring.PAIR_BLOCK


def test_torch_on_one_thread_restores_the_thread_count() -> None:
    torch.set_num_threads(2)
    try:
        with torch_on_one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), torch_on_one_thread():
            raise RuntimeError
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    with torch_on_one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("cached", [False, True])
def test_head_features_beside_the_logits_are_the_same_bits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """With torch on two threads and a group of at least ``BESIDE_PAIRS``, the pair head's
    features run on a second thread while the logits run here: the same scores, bit for bit
    (with a feature cache too, read back in a second call), and the worker really ran."""
    pair = synthetic_pair()
    bundle = replace(untrained_bundle(pair), pair_head=HEAD)
    engine = _loaded(tmp_path, pair, bundle)
    rng = np.random.default_rng(2)
    ga, gb = engine.sides[0].graph, engine.sides[1].graph
    nodes = [(ga.index[pair.a.keys[a]], gb.index[pair.b.keys[b]])
             for a, b in rng.integers(0, pair.a.num_entities, (90, 2)).tolist()]

    def scored() -> list[np.ndarray]:
        cache = FeatureCache(capacity=10_000) if cached else None
        return [score_pairs(bundle, engine.sides, nodes, chunk=16, cache=cache)[0]
                for _ in range(2)]

    passes: list[int] = []
    attend = scoring._attend

    def attended(bundle: ModelBundle, messages: object, at: tuple, vectors: tuple) -> object:
        passes.append(len(at[0]))
        return attend(bundle, messages, at, vectors)

    monkeypatch.setattr(scoring, "_attend", attended)
    monkeypatch.setattr(scoring, "PAIR_BLOCK", 32)  # several blocks a group
    monkeypatch.setattr(scoring, "BESIDE_BLOCK", 8)
    serial = scored()
    assert max(passes) == 32
    passes.clear()
    ran: list[str] = []
    features = scoring._head_features

    def spy(*args: object) -> object:
        ran.append(threading.current_thread().name)
        return features(*args)

    monkeypatch.setattr(scoring, "_head_features", spy)
    monkeypatch.setattr(scoring, "BESIDE_PAIRS", 1)
    torch.set_num_threads(2)
    try:
        with second_threads(True):
            beside = scored()
    finally:
        torch.set_num_threads(1)
    assert ran and all(name.startswith("beside") for name in ran)
    assert max(passes) == 8  # the logits' passes shortened while the features run beside
    for one, two in zip(serial, beside, strict=True):
        assert one.tobytes() == two.tobytes()


class _HeldEnds(TwoEnds):
    """An owner held before its first item until the helper took all the others."""

    def front(self, i: int) -> bool:
        if i == 0:
            deadline = time.monotonic() + 10
            while self._back > 1 and time.monotonic() < deadline:
                time.sleep(0.001)
        return super().front(i)


@pytest.mark.parametrize("cached", [False, True])
def test_feature_blocks_taken_from_the_back_are_the_same_bits(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """The calling thread, its logits done, computes the head's features of the blocks the
    worker has not reached (whole, then the worker reads and stores the cache as it would
    have): the same scores and the same cache after two calls (the second reads it back)."""
    pair = synthetic_pair()
    bundle = replace(untrained_bundle(pair), pair_head=HEAD)
    engine = _loaded(tmp_path, pair, bundle)
    rng = np.random.default_rng(3)
    ga, gb = engine.sides[0].graph, engine.sides[1].graph
    nodes = sorted({(ga.index[pair.a.keys[a]], gb.index[pair.b.keys[b]])
                    for a, b in rng.integers(0, pair.a.num_entities, (120, 2)).tolist()})

    def scored() -> tuple[list[np.ndarray], FeatureCache | None]:
        cache = FeatureCache(capacity=10_000) if cached else None
        return [score_pairs(bundle, engine.sides, nodes, chunk=16, cache=cache)[0]
                for _ in range(2)], cache

    monkeypatch.setattr(scoring, "PAIR_BLOCK", 16)  # several blocks a group
    monkeypatch.setattr(scoring, "BESIDE_BLOCK", 8)
    serial, serial_cache = scored()
    taken: list[int] = []
    whole = scoring.kept_whole

    def kept(*args: object) -> object:
        taken.append(threading.get_ident())
        return whole(*args)

    monkeypatch.setattr(scoring, "TwoEnds", _HeldEnds)
    monkeypatch.setattr(scoring, "kept_whole", kept)
    monkeypatch.setattr(scoring, "BESIDE_PAIRS", 1)
    torch.set_num_threads(2)
    try:
        with second_threads(True):
            helped, helped_cache = scored()
    finally:
        torch.set_num_threads(1)
    for one, two in zip(serial, helped, strict=True):
        assert one.tobytes() == two.tobytes()
    if cached:
        assert taken and threading.get_ident() not in taken  # the worker kept them
        assert serial_cache is not None and helped_cache is not None
        assert serial_cache.hits == helped_cache.hits > 0
        for a, b in zip(serial_cache._levels, helped_cache._levels, strict=True):
            for name in ("keys", "tags", "mask", "tick", "feats"):
                assert getattr(a, name).tobytes() == getattr(b, name).tobytes()


def test_an_error_beside_the_logits_is_raised_after_both_ended(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure of the head's features reaches the caller (not lost on the worker thread)."""
    pair = synthetic_pair()
    bundle = replace(untrained_bundle(pair), pair_head=HEAD)
    engine = _loaded(tmp_path, pair, bundle)
    nodes = [(0, 0), (1, 1), (2, 2)]

    def broken(*args: object) -> object:
        raise MemoryError("features")

    monkeypatch.setattr(scoring, "_head_features", broken)
    monkeypatch.setattr(scoring, "BESIDE_PAIRS", 1)
    torch.set_num_threads(2)
    try:
        with second_threads(True), pytest.raises(MemoryError, match="features"):
            score_pairs(bundle, engine.sides, nodes, chunk=16)
    finally:
        torch.set_num_threads(1)


def test_messages_cut_per_pair_are_the_rows_indexing_gives() -> None:
    """``_cut`` reads rows with ``index_select`` (decision 0118): the same tensors, dtypes and
    shapes as advanced indexing, repeated rows included."""
    gen = torch.Generator().manual_seed(2)
    m = Messages(z_self=torch.randn(9, 4, generator=gen), z=torch.randn(9, 5, 4, generator=gen),
                 beta=torch.rand(9, 5, generator=gen), mask=torch.rand(9, 5, generator=gen) > 0.3)
    at = torch.tensor([3, 3, 0, 8, 1, 3], dtype=torch.int64)
    got = scoring._cut(m, at)
    for name in ("z_self", "z", "beta", "mask"):
        want = getattr(m, name)[at]
        assert getattr(got, name).dtype == want.dtype and torch.equal(getattr(got, name), want)
