"""Batch alignment: candidates both ways, one-to-one decisions, evidence from attention."""

from __future__ import annotations

import numpy as np

from stream_align.engine.batch_align import align, one_to_one
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings, ArchitectureSettings, TrainSettings
from stream_align.model.train import train
from tests.unit.model.model_synthetic import synthetic_pair


def test_one_to_one_is_repeated_mutual_best() -> None:
    pairs = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 2]])
    scores = np.array([0.9, 0.8, 0.85, 0.3, 0.2])
    chosen = one_to_one(pairs, scores, threshold=0.25)
    assert pairs[chosen].tolist() == [[0, 0], [1, 1]]  # (2, 2) is under the threshold


def test_one_to_one_with_a_threshold_per_pair() -> None:
    pairs = np.array([[0, 0], [0, 1], [1, 1]])
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    chosen = one_to_one(pairs, scores, threshold=np.array([0.95, 0.5, 0.5]))
    assert pairs[chosen].tolist() == [[0, 1]]  # (0, 0) is under its own bar, (1, 1) blocked


def test_align_finds_most_gold_pairs_with_evidence() -> None:
    pair = synthetic_pair(films=30)
    bundle, _ = train(pair, TrainSettings(epochs=3, batch_size=64, progress=False),
                      ArchitectureSettings(hidden_dim=16))
    scorer = ModelScorer(bundle, pair)
    matches = align(scorer, AlignSettings(threshold=0.0, evidence=2))
    gold = {(pair.a.keys[a], pair.b.keys[b]) for a, b in pair.test.tolist()}
    found = {(m.left, m.right) for m in matches}
    assert len({m.left for m in matches}) == len(matches)  # one-to-one
    assert len({m.right for m in matches}) == len(matches)
    assert len(gold & found) / len(gold) > 0.8
    assert any(m.evidence for m in matches)
    fields = {"left", "right", "relation_left", "relation_right", "weight"}
    assert all(set(e) == fields for m in matches for e in m.evidence)
    for m in matches:  # shares of the pair's attention mass, largest first
        weights = [e["weight"] for e in m.evidence]
        assert weights == sorted(weights, reverse=True) and sum(weights) <= 1 + 1e-6
    # every entity is named: the neighbourhood rule (unnamed pairs only) changes nothing
    rounds = align(scorer, AlignSettings(threshold=0.0, evidence=0, neighbourhood_rounds=2))
    assert [(m.left, m.right) for m in rounds] == [(m.left, m.right) for m in matches]
