"""Which pairs the scores stage keeps: the label test as arrays equals a label lookup per pair."""

from __future__ import annotations

import numpy as np
from engine_fixtures import engine_settings, synthetic_pair, untrained_bundle

from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import Label, LabelValue


def _reference(engine: AlignmentEngine, lefts: np.ndarray, rights: np.ndarray) -> np.ndarray:
    """The rule read per pair from the label table by key (what ``_wanted`` did before)."""
    a, b = engine.sides
    indexed = (a.faiss_ids(lefts) >= 0) & (b.faiss_ids(rights) >= 0)
    listed = a.lists.holds(lefts, rights) | b.lists.holds(rights, lefts)
    if engine.anchors is not None:
        listed |= engine.anchors.holds(0, lefts, rights) | engine.anchors.holds(1, rights, lefts)
    found = [engine.decider.labels.get((a.graph.keys[u], b.graph.keys[v]))
             for u, v in zip(lefts.tolist(), rights.tolist(), strict=True)]
    match = np.array([x is LabelValue.MATCH for x in found], dtype=bool)
    non = np.array([x is LabelValue.NON_MATCH for x in found], dtype=bool)
    return indexed & ~non & (listed | match)


def _label(left: str, right: str, value: LabelValue, time: int) -> Label:
    return Label.new(left=left, right=right, label=value, source="test", event_time=time)


def test_wanted_pairs_follow_match_dormant_and_non_match_labels() -> None:
    """MATCH labels (governing and dormant), NON_MATCH labels on candidate pairs, and labels
    naming keys that arrive later: every pair of the two graphs is tested both ways."""
    pair = synthetic_pair()
    engine = AlignmentEngine.empty(untrained_bundle(pair), engine_settings(anchor_candidates=2))
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=4))
    ka, kb = pair.a.keys, pair.b.keys
    rng = np.random.default_rng(0)
    labels = [_label(ka[x], kb[y], LabelValue.MATCH, 1) for x, y in pair.train.tolist()]
    labels += [_label(ka[x], kb[y], LabelValue.MATCH, 2)  # newer: the earlier ones go dormant
               for x, y in rng.integers(0, len(ka), (6, 2)).tolist()]
    engine.process(changes[:150], labels)
    a, b = engine.sides
    lefts, rights = np.meshgrid(a.indexed(), b.indexed(), indexing="ij")
    lefts, rights = lefts.ravel(), rights.ravel()
    listed = np.flatnonzero(a.lists.holds(lefts, rights))[:12]
    refusals = [_label(a.graph.keys[u], b.graph.keys[v], LabelValue.NON_MATCH, 3)
                for u, v in zip(lefts[listed].tolist(), rights[listed].tolist(), strict=True)]
    for start in range(150, len(changes), 200):
        engine.process(changes[start:start + 200], refusals if start == 150 else [])
        a, b = engine.sides
        lefts, rights = np.meshgrid(a.indexed(), b.indexed(), indexing="ij")
        lefts, rights = lefts.ravel(), rights.ravel()
        wanted = engine.scores._wanted(lefts, rights)
        assert np.array_equal(wanted, _reference(engine, lefts, rights))
    labels = {x for x in engine.decider.labels.values()}
    assert labels == {LabelValue.MATCH, LabelValue.NON_MATCH}
    assert (wanted & ~(a.lists.holds(lefts, rights) | b.lists.holds(rights, lefts))).any()
