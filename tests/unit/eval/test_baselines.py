"""Baselines: names alone, and neighbour propagation that wins where names are ambiguous."""

import numpy as np
import pytest

from stream_align.eval.baselines import BASELINES
from stream_align.eval.baselines.names import names_scorer
from stream_align.eval.baselines.propagation import adjacency
from stream_align.eval.metrics import gold_ranks, hits_at_k


def _hits1(pair, scorer):
    sim = scorer.similarity(pair, pair.test[:, 0], pair.test[:, 1])
    return hits_at_k(gold_ranks(sim, np.stack([np.arange(len(sim))] * 2, axis=1)), 1)


def test_names_alone_scores_identical_names_one(pair):
    scorer = names_scorer(pair)
    scores = scorer.score_pairs(pair, pair.test)
    assert scores == pytest.approx(np.ones(len(pair.test)), abs=1e-5)
    assert _hits1(pair, scorer) == 0.0  # every leaf ties with its twin: pessimistic rank 2


@pytest.mark.parametrize("method", ["propagation1", "propagation2"])
def test_propagation_beats_names_when_neighbours_decide(pair, method):
    assert _hits1(pair, BASELINES[method](pair)) == 1.0 > _hits1(pair, names_scorer(pair))


@pytest.mark.parametrize("method", sorted(BASELINES))
def test_score_pairs_agrees_with_similarity(pair, method):
    scorer = BASELINES[method](pair)
    sim = scorer.similarity(pair, pair.test[:, 0], pair.test[:, 1])
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, len(pair.test), 30), rng.integers(0, len(pair.test), 30)
    pairs = np.stack([pair.test[rows, 0], pair.test[cols, 1]], axis=1)
    assert scorer.score_pairs(pair, pairs) == pytest.approx(sim[rows, cols], abs=1e-5)


def test_hidden_names_give_zero_names_scores_and_anchors_still_propagate(hidden_pair):
    hidden = hidden_pair
    assert not names_scorer(hidden).similarity(hidden, hidden.test[:, 0], hidden.test[:, 1]).any()
    assert _hits1(hidden, BASELINES["propagation1"](hidden)) == 1.0


def test_adjacency_is_symmetric_row_normalised_without_self_loops(pair):
    adj = adjacency(pair.a).toarray()
    degree = (adj > 0).sum(axis=1)
    assert ((adj > 0) == (adj > 0).T).all() and not np.diag(adj).any()
    assert adj.sum(axis=1)[degree > 0] == pytest.approx(np.ones((degree > 0).sum()))
