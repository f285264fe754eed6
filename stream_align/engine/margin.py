"""The unnamed margin: a structure-only pair must beat both entities' other candidates clearly.

ContEA's new entities arrive unnamed with one to three triples, and most have no counterpart
(batch1 adds 37,700 entities and 1,531 new links). Their pair scores rest on a few neighbours,
so an absolute bar (``unnamed_threshold``, decision 0010) still lets them match whatever scores
highest — typically one of several entities wired to the same hub, none clearly ahead. Ambiguity
is the signal an absolute score lacks (Lowe's ratio test; CSLS corrects the same thing by the
neighbourhood's mean): a pair with an unnamed entity needs its score at least ``margin`` above
the *runner-up* — the best other scored pair of its left entity or of its right entity.

The runner-up is a function of the scored pair set (the batch aligner's candidate pairs, which
the engine's pair book equals), so batch and streamed decisions stay the same function of the
scores: :func:`runner_up` computes it for the batch arrays, :class:`RunnerUps` for the engine's
book, memoised per decision update (each entity's pairs are read once per update, however many
of its pairs the repair looks at). A changed pair can move the runner-up of every other pair of
its two entities, so with a margin the decider reconsiders those entities' pairs
(``Decider.update``); without one nothing changes.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from stream_align.engine.pair_book import PairBook


def runner_up(pairs: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per pair ``(a, b)``: the best score among the other pairs of ``a`` and of ``b``
    (``-inf`` where both entities have no other pair)."""
    best = np.full(len(pairs), -np.inf)
    for column in (0, 1):
        ids = pairs[:, column]
        order = np.lexsort((-scores.astype(np.float64), ids))
        first = np.ones(len(order), dtype=bool)
        first[1:] = ids[order][1:] != ids[order][:-1]
        second = np.zeros(len(order), dtype=bool)
        second[1:] = first[:-1] & ~first[1:]
        n = int(ids.max()) + 1 if len(ids) else 0
        top1, top2 = np.full(n, -np.inf), np.full(n, -np.inf)
        top1[ids[order][first]] = scores[order][first]
        top2[ids[order][second]] = scores[order][second]
        # the pair ranked first of its entity competes with the second, every other with the first
        is_top = np.zeros(len(pairs), dtype=bool)
        is_top[order[first]] = True
        other = np.where(is_top, top2[ids], top1[ids])
        best = np.maximum(best, other)
    return best


class RunnerUps:
    """Runner-up scores read from a pair book by node, each entity's two best pairs computed
    once until :meth:`clear`."""

    def __init__(self, book: PairBook) -> None:
        self.book = book
        self._best: tuple[dict[int, list[tuple[float, int]]], ...] = ({}, {})

    def clear(self) -> None:
        """Forget the memo (scores changed)."""
        for memo in self._best:
            memo.clear()

    def _of(self, side: int, node: int) -> list[tuple[float, int]]:
        """The two best ``(score, other node)`` of ``node`` on ``side``, highest first."""
        memo = self._best[side]
        if node not in memo:
            others = np.asarray(self.book.partners(side, node), dtype=np.int64)
            mine = np.full(len(others), node, dtype=np.int64)
            scores = (self.book.node_scores(mine, others) if side == 0
                      else self.book.node_scores(others, mine))
            memo[node] = heapq.nlargest(2, zip(scores.tolist(), others.tolist(), strict=True))
        return memo[node]

    def of(self, left: int, right: int) -> float:
        """The best score of another pair of ``left`` or of ``right`` (``-inf``: none)."""
        found = [score for score, b in self._of(0, left) if b != right][:1]
        found += [score for score, a in self._of(1, right) if a != left][:1]
        return max(found, default=float("-inf"))
