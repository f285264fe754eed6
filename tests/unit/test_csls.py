"""CSLS hub scores and the re-rank of a retrieval list (decision 0036)."""

from __future__ import annotations

import numpy as np

from stream_align.csls import ROUNDING, hub_scores, rerank, rerank_slack


def test_hub_score_is_the_mean_of_the_first_k_of_each_row() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.5, 0.4, 0.0, 0.0], [0.0] * 4], np.float32)
    hubs = hub_scores(scores, np.array([4, 2, 0]), 3)
    assert np.allclose(hubs, [(0.9 + 0.8 + 0.7) / 3, 0.45, 0.0])


def test_rerank_demotes_a_hub_below_a_lonely_member() -> None:
    """Member 7 is a hub (hub score 0.9), member 3 is close to nobody else (0.2): CSLS puts 3
    first although 7 has the higher plain score; equal CSLS scores keep the plain order."""
    members = np.array([[7, 3, 5, -1]])
    scores = np.array([[0.80, 0.70, 0.60, 0.0]], np.float32)
    hubs = np.array([[0.9, 0.2, 0.4, 0.0]])  # 2s - r: 0.70, 1.20, 0.80
    assert rerank(members, scores, np.array([3]), hubs, 2).tolist() == [[3, 5]]
    assert rerank(members, scores, np.array([3]), hubs, 4).tolist() == [[3, 5, 7, -1]]
    same = rerank(np.array([[4, 2]]), np.array([[0.5, 0.5]], np.float32), np.array([2]),
                  np.zeros((1, 2)), 2)
    assert same.tolist() == [[4, 2]]


def test_slack_is_the_least_gap_less_the_rounding_margin() -> None:
    """The slack is the least CSLS gap across the first ``top_k`` places less ``ROUNDING · (1 +
    the row's largest |CSLS score|)``; a gap inside that margin gives none. Fails if the margin
    were left out (a near-tie within rounding would keep its heads through a hub move)."""
    members = np.array([[1, 2, 3, -1]])
    scores = np.array([[0.5, 0.25, 0.125, 0.0]], np.float32)  # 2s: 1.0, 0.5, 0.25 exactly
    lengths = np.array([3])
    margin = ROUNDING * (1.0 + 1.0)
    hubs = np.array([[0.0, 0.0, 0.0, 0.0]])  # CSLS 1.0, 0.5, 0.25: least gap 0.25
    _, slack = rerank_slack(members, scores, lengths, hubs, 2)
    assert slack.tolist() == [0.25 - margin]
    for near in (margin / 2, 0.9 * margin):  # the third entry's CSLS within ``near`` of the second
        hubs = np.array([[0.0, 0.0, near - 0.25, 0.0]])  # CSLS 1.0, 0.5, 0.5 - near
        _, slack = rerank_slack(members, scores, lengths, hubs, 2)
        assert slack.tolist() == [0.0]
    hubs = np.array([[0.0, 0.0, 4 * margin - 0.25, 0.0]])  # a gap of 4 margins keeps 3 of them
    _, slack = rerank_slack(members, scores, lengths, hubs, 2)
    assert 2.9 * margin < slack[0] < 3.1 * margin
    _, slack = rerank_slack(members, scores, lengths, np.zeros((1, 4)), 1)
    assert slack.tolist() == [0.5 - margin]  # only the first two places' gap counts at top_k 1
