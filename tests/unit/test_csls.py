"""CSLS hub scores and the re-rank of a retrieval list (decision 0036)."""

from __future__ import annotations

import numpy as np

from stream_align.csls import hub_scores, rerank


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
