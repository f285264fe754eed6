"""Metrics on examples small enough to compute by hand."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from stream_align.eval.metrics import (
    average_precision,
    best_f1,
    curve_points,
    gold_ranks,
    hits_at_k,
    matching_accuracy,
    mean_reciprocal_rank,
    precision_recall_curve,
    protocol_pairs,
    ranking_metrics,
    recall_at_precision,
)


def test_perfect_ranking_scores_one():
    ranks = gold_ranks(np.eye(4, dtype=np.float32), np.stack([np.arange(4)] * 2, axis=1))
    assert ranks.tolist() == [1, 1, 1, 1]
    assert ranking_metrics(ranks) == {"hits1": 1.0, "hits10": 1.0, "mrr": 1.0}


def test_known_ranks_and_mrr():
    sim = np.array([[0.9, 0.1, 0.0],    # gold 0 first
                    [0.8, 0.5, 0.1],    # gold 1 second
                    [0.7, 0.6, 0.2]])   # gold 2 third
    ranks = gold_ranks(sim, np.array([[0, 0], [1, 1], [2, 2]]))
    assert ranks.tolist() == [1, 2, 3]
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert hits_at_k(ranks, 1) == pytest.approx(1 / 3)
    assert hits_at_k(ranks, 2) == pytest.approx(2 / 3)


def test_ties_are_pessimistic():
    ranks = gold_ranks(np.zeros((2, 5)), np.array([[0, 0], [1, 3]]))
    assert ranks.tolist() == [5, 5]


def test_matching_accuracy_counts_unmatched_as_wrong():
    match = np.array([0, 2, -1])
    assert matching_accuracy(match, np.array([[0, 0], [1, 1], [2, 2]])) == pytest.approx(1 / 3)


def test_pr_curve_by_hand():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([1, 0, 1, 0])
    curve = precision_recall_curve(scores, labels)
    assert curve.precision.tolist() == pytest.approx([1.0, 0.5, 2 / 3, 0.5])
    assert curve.recall.tolist() == pytest.approx([0.5, 0.5, 1.0, 1.0])
    assert average_precision(curve) == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    assert best_f1(curve) == pytest.approx(0.8)  # P 2/3, R 1
    assert recall_at_precision(curve, 0.95) == pytest.approx(0.5)
    assert recall_at_precision(curve, 0.6) == pytest.approx(1.0)


def test_average_precision_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 20, 500).astype(np.float32)  # many ties
    labels = (rng.random(500) < scores / 25).astype(np.int8)
    curve = precision_recall_curve(scores, labels)
    assert average_precision(curve) == pytest.approx(average_precision_score(labels, scores))


def test_curve_points_are_thinned_and_keep_the_ends():
    scores = np.arange(1000, dtype=np.float32)
    curve = precision_recall_curve(scores, (scores % 2).astype(np.int8))
    points = curve_points(curve, max_points=50)
    assert len(points) <= 50
    assert points[0] == (curve.recall[0], curve.precision[0])
    assert points[-1] == (1.0, 0.5)


def test_protocol_pairs_corrupt_one_side_with_other_test_entities():
    positives = np.array([[0, 10], [1, 11], [2, 12], [3, 13]])
    pairs, labels = protocol_pairs(positives, negatives=5, seed=1)
    assert len(pairs) == 4 + 4 * 5 * 2 and labels.sum() == 4
    assert (pairs[:4] == positives).all()
    gold = {tuple(p) for p in positives.tolist()}
    negatives = pairs[labels == 0]
    assert not any(tuple(p) in gold for p in negatives.tolist())
    assert set(negatives[:, 0]) <= {0, 1, 2, 3} and set(negatives[:, 1]) <= {10, 11, 12, 13}
    again, _ = protocol_pairs(positives, negatives=5, seed=1)
    assert (again == pairs).all()


def test_protocol_pairs_drop_corruptions_that_are_gold():
    positives = np.array([[0, 10], [1, 10]])  # not one-to-one: every corruption is gold
    pairs, labels = protocol_pairs(positives, negatives=3, seed=0)
    assert pairs.tolist() == positives.tolist() and labels.tolist() == [1, 1]
