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
from collections.abc import Iterable, Mapping
from typing import Protocol

import numpy as np


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


class Partners(Protocol):
    """One side of a pair book: the other side's keys paired with a key."""

    def get(self, key: str, default: tuple = ()) -> Iterable[str]: ...


class RunnerUps:
    """Runner-up scores read from a pair book (``scores`` by pair, ``rights``/``lefts`` by
    entity), each entity's two best pairs computed once until :meth:`clear`."""

    def __init__(self, scores: Mapping[tuple[str, str], float], rights: Partners,
                 lefts: Partners) -> None:
        self.scores, self.rights, self.lefts = scores, rights, lefts
        self._left: dict[str, list[tuple[float, str]]] = {}
        self._right: dict[str, list[tuple[float, str]]] = {}

    def clear(self) -> None:
        """Forget the memo (scores changed)."""
        self._left.clear()
        self._right.clear()

    def _of_left(self, left: str) -> list[tuple[float, str]]:
        if left not in self._left:
            self._left[left] = _top2((self.scores[left, b], b) for b in self.rights.get(left, ()))
        return self._left[left]

    def _of_right(self, right: str) -> list[tuple[float, str]]:
        if right not in self._right:
            self._right[right] = _top2((self.scores[a, right], a)
                                       for a in self.lefts.get(right, ()))
        return self._right[right]

    def of(self, left: str, right: str) -> float:
        """The best score of another pair of ``left`` or of ``right`` (``-inf``: none)."""
        found = [score for score, b in self._of_left(left) if b != right][:1]
        found += [score for score, a in self._of_right(right) if a != left][:1]
        return max(found, default=float("-inf"))


def _top2(scored: Iterable[tuple[float, str]]) -> list[tuple[float, str]]:
    """The two best ``(score, key)`` entries, highest first."""
    return heapq.nlargest(2, scored)
