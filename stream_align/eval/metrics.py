"""Alignment metrics: ranking over every test target, and the paper's pair protocol.

Ranking (DESIGN.md §6): each test source ranks *all* test targets by similarity. Ties are broken
**pessimistically** — the gold target is placed after every target scoring the same — so a
method that returns constant scores gets the worst rank, not a lucky one.

Paper protocol (CG-MuAlign, Zhu et al. 2020): each test positive ``(a, b)`` gets ``k`` negatives
from each graph, ``(a', b)`` with ``a'`` another test source and ``(a, b')`` with ``b'`` another
test target; the method scores every pair and we read precision/recall off the scores.

Every function here is pure: arrays in, numbers out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RANK_CHUNK = 2048


def gold_ranks(sim: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """1-based rank of each query's gold column in its row of ``sim``, ties pessimistic.

    ``queries`` is ``int (q, 2)`` of ``(row, gold column)``; rank = ``#{j : sim[row, j] >=
    sim[row, gold]}``, which counts the gold itself, so a perfect ranking gives 1.
    """
    ranks = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), RANK_CHUNK):
        rows, cols = queries[start:start + RANK_CHUNK].T
        block = sim[rows]
        gold = block[np.arange(len(rows)), cols]
        ranks[start:start + RANK_CHUNK] = (block >= gold[:, None]).sum(axis=1)
    return ranks


def hits_at_k(ranks: np.ndarray, k: int) -> float:
    """Fraction of queries whose gold target ranks within the first ``k``."""
    return float(np.mean(ranks <= k)) if len(ranks) else 0.0


def mean_reciprocal_rank(ranks: np.ndarray) -> float:
    """Mean of ``1 / rank`` over queries (1.0 for a perfect ranking)."""
    return float(np.mean(1.0 / ranks)) if len(ranks) else 0.0


def ranking_metrics(ranks: np.ndarray) -> dict[str, float]:
    """The three ranking numbers every benchmark row reports."""
    return {"hits1": hits_at_k(ranks, 1), "hits10": hits_at_k(ranks, 10),
            "mrr": mean_reciprocal_rank(ranks)}


def matching_accuracy(match: np.ndarray, queries: np.ndarray) -> float:
    """Hits@1 after one-to-one assignment: fraction of queries whose row is matched to its gold.

    ``match[row]`` is the matched column, or ``-1`` for an unmatched row.
    """
    if not len(queries):
        return 0.0
    return float(np.mean(match[queries[:, 0]] == queries[:, 1]))


def protocol_pairs(positives: np.ndarray, negatives: int, seed: int,
                   gold: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The paper's evaluation pairs: every positive plus ``negatives`` corruptions per graph.

    A corruption replaces the left entity by a uniformly drawn *other* positive's left entity,
    or the right one by another positive's right entity (seeded). Corruptions that are
    themselves in ``gold`` (possible when gold is not one-to-one) are dropped.
    Returns ``(pairs int64 (n, 2), labels int8 (n,))``.
    """
    n = len(positives)
    if n < 2 or negatives <= 0:
        return positives.copy(), np.ones(n, dtype=np.int8)
    rng = np.random.default_rng(seed)
    # Draw from the n - 1 others: shifting draws >= i by one skips positive i itself.
    own = np.arange(n)[:, None]
    left = rng.integers(0, n - 1, size=(n, negatives))
    right = rng.integers(0, n - 1, size=(n, negatives))
    left += left >= own
    right += right >= own
    corrupt_a = np.stack([positives[left, 0], np.repeat(positives[:, 1:], negatives, 1)], -1)
    corrupt_b = np.stack([np.repeat(positives[:, :1], negatives, 1), positives[right, 1]], -1)
    neg = np.concatenate([corrupt_a.reshape(-1, 2), corrupt_b.reshape(-1, 2)])
    known = positives if gold is None else gold
    neg = neg[~_pair_in(neg, known)]
    pairs = np.concatenate([positives, neg]).astype(np.int64)
    labels = np.concatenate([np.ones(n, np.int8), np.zeros(len(neg), np.int8)])
    return pairs, labels


def _pair_in(pairs: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Row-wise membership of ``pairs`` in ``known`` (both ``(n, 2)`` non-negative ints)."""
    width = int(max(pairs[:, 1].max(initial=0), known[:, 1].max(initial=0))) + 1
    return np.isin(pairs[:, 0] * width + pairs[:, 1], known[:, 0] * width + known[:, 1])


@dataclass(frozen=True)
class PRCurve:
    """Precision and recall at each distinct score threshold, highest threshold first."""

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray


def precision_recall_curve(scores: np.ndarray, labels: np.ndarray) -> PRCurve:
    """Precision/recall when predicting "match" for every score ``>= t``, for each distinct ``t``.

    Tied scores form one point (they cannot be separated by a threshold), as in scikit-learn.
    """
    order = np.argsort(-scores, kind="stable")
    ordered, y = scores[order], labels[order].astype(np.float64)
    last = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]
    tp, fp = np.cumsum(y)[last], np.cumsum(1.0 - y)[last]
    positives = max(float(y.sum()), 1.0)
    return PRCurve(precision=tp / (tp + fp), recall=tp / positives, thresholds=ordered[last])


def average_precision(curve: PRCurve) -> float:
    """PRAUC as average precision: ``Σ_n (R_n − R_{n−1}) · P_n`` (no interpolation)."""
    steps = np.diff(np.r_[0.0, curve.recall])
    return float(np.sum(steps * curve.precision))


def best_f1(curve: PRCurve) -> float:
    """Largest ``2PR / (P + R)`` over all thresholds."""
    total = curve.precision + curve.recall
    f1 = np.divide(2 * curve.precision * curve.recall, total, out=np.zeros_like(total),
                   where=total > 0)
    return float(f1.max(initial=0.0))


def recall_at_precision(curve: PRCurve, min_precision: float = 0.95) -> float:
    """Largest recall reachable with precision ``>= min_precision`` (0 if none)."""
    ok = curve.precision >= min_precision
    return float(curve.recall[ok].max(initial=0.0))


def protocol_metrics(curve: PRCurve) -> dict[str, float]:
    """The three pair-protocol numbers every benchmark row reports."""
    return {"prauc": average_precision(curve), "best_f1": best_f1(curve),
            "recall_at_p95": recall_at_precision(curve, 0.95)}


def curve_points(curve: PRCurve, max_points: int = 200) -> list[tuple[float, float]]:
    """``(recall, precision)`` points thinned to at most ``max_points`` (ends kept), for plots."""
    n = len(curve.recall)
    keep = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int)) if n else []
    return [(float(curve.recall[i]), float(curve.precision[i])) for i in keep]
