"""One-to-one assignment: always a matching, and it resolves what a row-wise argmax cannot."""

import numpy as np
import pytest

from stream_align.eval.assignment import ASSIGNMENTS, assign, sinkhorn_plan

# Rows 0 and 1 both prefer column 0; row 0 is the better claim, so row 1 must take column 1.
CONFLICT = np.array([[0.9, 0.1, 0.0],
                     [0.8, 0.7, 0.1],
                     [0.1, 0.6, 0.5]], dtype=np.float32)


@pytest.mark.parametrize("method", sorted(ASSIGNMENTS))
def test_returns_a_permutation(method):
    sim = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    match = assign(sim, method)
    assert sorted(match.tolist()) == list(range(40))


@pytest.mark.parametrize("method", sorted(ASSIGNMENTS))
def test_fixes_a_crafted_conflict(method):
    assert CONFLICT.argmax(axis=1).tolist() == [0, 0, 1]  # argmax alone is not one-to-one
    assert assign(CONFLICT, method).tolist() == [0, 1, 2]


@pytest.mark.parametrize("method", sorted(ASSIGNMENTS))
def test_more_rows_than_columns_leaves_rows_unmatched(method):
    sim = np.random.default_rng(1).random((6, 4)).astype(np.float32)
    match = assign(sim, method)
    matched = match[match >= 0]
    assert (match == -1).sum() == 2 and len(set(matched.tolist())) == 4


def test_sinkhorn_plan_is_nearly_doubly_stochastic():
    sim = np.random.default_rng(2).random((30, 30)).astype(np.float32)
    plan = np.exp(sinkhorn_plan(sim, iterations=200))
    assert plan.sum(axis=0) == pytest.approx(np.ones(30), abs=1e-3)
    assert plan.sum(axis=1) == pytest.approx(np.ones(30), abs=1e-3)


@pytest.mark.parametrize("method", sorted(ASSIGNMENTS))
def test_constant_scores_still_give_a_matching_quickly(method):
    match = assign(np.zeros((300, 300), dtype=np.float32), method)
    assert sorted(match.tolist()) == list(range(300))


def test_mutual_best_matches_shared_ties_in_one_round():
    # Rows and columns break ties the same way, so this tie pattern still has mutual pairs.
    sim = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=np.float32)
    assert sorted(assign(sim, "mutual_best").tolist()) == [0, 1, 2]


def test_mutual_best_refuses_nan():
    with pytest.raises(ValueError, match="NaN"):
        assign(np.array([[np.nan, 1.0], [0.0, 1.0]]), "mutual_best")
