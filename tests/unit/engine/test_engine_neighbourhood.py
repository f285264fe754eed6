"""The neighbourhood stage inside the engine: streamed = batch aligner, restore = live."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, open_store, run

from stream_align.engine.batch_align import align, candidates
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.neighbourhood import rematch_unnamed
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings
from stream_align.service.engine_state import StoredState

torch.set_num_threads(1)
ROUNDS = 2


@pytest.fixture(scope="module")
def unnamed(pair: GraphPair) -> GraphPair:
    """Every third gold pair unnamed on both sides (ContEA's new entities). No seeds: the
    engine forces labelled pairs and the batch aligner does not, so with seeds their named
    matches differ before this stage (``snapshot_eval``); label anchors are covered by
    ``test_neighbourhood_stage``."""
    gold = np.concatenate([pair.train, pair.valid, pair.test])[::3]
    hide_a, hide_b = set(gold[:, 0].tolist()), set(gold[:, 1].tolist())
    return replace(pair, train=pair.train[:0],
                   a=replace(pair.a, names=["" if i in hide_a else n
                                            for i, n in enumerate(pair.a.names)]),
                   b=replace(pair.b, names=["" if i in hide_b else n
                                            for i, n in enumerate(pair.b.names)]))


def _stream(tmp: Path, bundle: ModelBundle, pair: GraphPair, batch: int, seed: int = 3,
            **rule: bool) -> AlignmentEngine:
    engine = AlignmentEngine.empty(bundle, engine_settings(neighbourhood_rounds=ROUNDS, **rule))
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=seed))
    with open_store(tmp) as store:
        run(store, engine, changes, labels=list(labels(pair)), batch=batch)
        while engine.pending_count:
            run(store, engine, [])
    return engine


def _batch(bundle: ModelBundle, pair: GraphPair, engine: AlignmentEngine | None = None,
           **rule: bool) -> dict[str, str]:
    """``align --neighbourhood-rounds``; with ``engine``, under the engine's frozen relations."""
    settings = AlignSettings(candidates=3, threshold=0.3, evidence=0,
                             neighbourhood_rounds=ROUNDS, **rule)
    matches = align(ModelScorer(bundle, pair), settings)
    if engine is not None:
        assert engine.neighbourhood is not None
        ra, rb = pair.a.relations, pair.b.relations
        relations = {(ra.index(r), rb.index(r2))
                     for r, r2 in engine.neighbourhood.relation_names()}
        ia, ib = pair.a.index(), pair.b.index()
        named = np.array([(ia[m.left], ib[m.right]) for m in matches
                          if pair.a.names[ia[m.left]] and pair.b.names[ib[m.right]]])
        scorer = ModelScorer(bundle, pair)
        pairs = candidates(scorer, settings.candidates)
        scores, _ = scorer.pair_scores(pairs[:, 0], pairs[:, 1])
        got = rematch_unnamed(pair.a, pair.b, named.reshape(-1, 2), pair.train, ROUNDS,
                              relations=relations, scored=(pairs, scores >= settings.threshold))
        return {pair.a.keys[a]: pair.b.keys[b] for a, b in got.tolist()}
    return {m.left: m.right for m in matches}


def _right(engine: AlignmentEngine) -> dict[str, str]:
    return {left: right for left, (right, _) in engine.final_alignment().items()}


def test_one_call_equals_align_with_neighbourhood_rounds(tmp_path: Path, unnamed: GraphPair,
                                                        bundle: ModelBundle) -> None:
    engine = _stream(tmp_path, bundle, unnamed, batch=0)
    assert engine.neighbourhood is not None and engine.neighbourhood.published
    assert _right(engine) == _batch(bundle, unnamed)


def test_free_named_and_the_hubness_correction_equal_align(tmp_path: Path, unnamed: GraphPair,
                                                          bundle: ModelBundle) -> None:
    """``--neighbourhood-named --neighbourhood-csls``: the engine's tie-break reads its pair
    book's scores of both entities as ``align`` reads its candidate pairs (decision 0057)."""
    rule = {"neighbourhood_named": True, "neighbourhood_csls": True}
    engine = _stream(tmp_path, bundle, unnamed, batch=0, **rule)
    assert engine.neighbourhood is not None and engine.neighbourhood.published
    assert _right(engine) == _batch(bundle, unnamed, **rule)


def test_preferences_read_at_once_equal_those_read_pair_by_pair(tmp_path: Path,
                                                               unnamed: GraphPair,
                                                               bundle: ModelBundle) -> None:
    """A rebuild's ties ask the engine about many pairs at once (``_preferred_many``: one read
    of the pairs' scores and of their entities' pairs): each answer equals ``_preferred``'s of
    the pair alone, over the book's pairs and pairs it never scored, with and without the
    hubness correction (decision 0123)."""
    engine = _stream(tmp_path, bundle, unnamed, batch=0, neighbourhood_named=True,
                     neighbourhood_csls=True)
    lefts, rights, _ = engine.book.arrays()
    rng = np.random.default_rng(0)
    lefts = np.concatenate([lefts, rng.permutation(lefts)])  # and mostly unscored pairs
    rights = np.concatenate([rights, rights])
    for csls in (True, False):
        engine.settings = engine.settings.model_copy(update={"neighbourhood_csls": csls})
        engine._typicals.clear()
        many = engine._preferred_many(lefts, rights)
        engine._typicals.clear()
        one = [engine._preferred(a, b) for a, b in zip(lefts.tolist(), rights.tolist(),
                                                       strict=True)]
        assert many.tolist() == one
        assert 0 < many.sum() < len(many)


def test_shuffled_micro_batches_equal_the_batch_rule(tmp_path: Path, unnamed: GraphPair,
                                                    bundle: ModelBundle) -> None:
    """Any batch order ends in the batch rule under the relations the stage froze (learnt
    when its anchors last doubled, so they may differ from the whole graph's)."""
    engine = _stream(tmp_path, bundle, unnamed, batch=25)
    assert engine.neighbourhood is not None and engine.neighbourhood.published
    assert _right(engine) == _batch(bundle, unnamed, engine)


def test_restore_rebuilds_the_stage_and_publishes_what_moved(tmp_path: Path,
                                                            unnamed: GraphPair,
                                                            bundle: ModelBundle) -> None:
    changes = list(triple_changes(unnamed, ReplayOrder.SHUFFLE, seed=5))
    settings = engine_settings(neighbourhood_rounds=ROUNDS)
    live = AlignmentEngine.empty(bundle, settings)
    with open_store(tmp_path / "db") as store:
        run(store, live, changes[:250], labels=list(labels(unnamed)), batch=50)
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        assert restored.neighbourhood is not None and live.neighbourhood is not None
        assert restored.neighbourhood.relation_names() == live.neighbourhood.relation_names()
        assert restored.neighbourhood.published == live.neighbourhood.published
        assert restored.final_alignment() == live.final_alignment()
        outcomes = run(store, restored, changes[250:], batch=50)
    for start in range(250, len(changes), 50):  # the live engine goes on without the store
        live.process(changes[start:start + 50], [])
    assert _right(restored) == _right(live)
    assert restored.neighbourhood.published == live.neighbourhood.published
    events = [e for o in outcomes for e in o.events]
    assert any(e.evidence and e.score < 1 and "rel" in (e.evidence[0].relation_left or "")
               for e in events)
