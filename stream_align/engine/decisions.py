"""Decisions from scored candidate pairs: one-to-one by repeated mutual best, labels override.

The batch aligner (``batch_align.one_to_one``) takes the highest pair over the threshold, drops
its rows and repeats. With distinct scores that result is the unique *stable* matching: no
eligible pair ``(a, b)`` scores above both ``a``'s and ``b``'s own match. The engine keeps that
matching under change by resolving blocking pairs, highest first: after pairs ``Δ`` change, a
blocking pair must touch an endpoint of ``Δ`` (one of its three relevant scores changed), and a
pair freed by a resolution is re-checked, so the repair is local and ends in the same matching
as the batch computation. Each resolution replaces two lower matches with a higher one, so it
terminates. When most pairs changed (a bulk refresh) the same matching is computed at once from
the book's arrays instead (``rematch``, which says why it is the same).

Hysteresis: a new match needs ``match_threshold`` (``unnamed_threshold`` where an entity has no
name, so the score rests on structure alone; there also ``unnamed_margin`` above the runner-up,
``margin``); an existing one stays eligible down to its bar
less the band ``match_threshold - keep_threshold``. A forced pair (``labels``: the MATCH label
that governs both its entities) outranks every score, and an entity governed by a MATCH label
sits out every other pair; a NON_MATCH label removes its pair.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from stream_align.engine import rematch
from stream_align.engine.labels import LabelBook
from stream_align.engine.margin import RunnerUps
from stream_align.engine.pair_book import PairBook
from stream_align.engine.settings import EngineSettings
from stream_align.events.contracts import LabelValue

Pair = tuple[str, str]


@dataclass(frozen=True)
class Change:
    """A published decision that changed: a new match, a retraction, or a moved score."""

    left: str
    right: str
    score: float
    retract: bool
    previous_score: float | None  # published score of the MATCH it replaces, if any


class Decider:
    """Labels, current matches (with their published scores) and the stable-matching repair."""

    def __init__(self, settings: EngineSettings, book: PairBook,
                 named: Callable[[str, str], bool] = lambda left, right: True) -> None:
        self.settings, self.book, self.named = settings, book, named
        self.label_book = LabelBook()
        self.labels = self.label_book.labels
        self.forced_left = self.label_book.forced_left
        self.forced_right = self.label_book.forced_right
        self.matches: dict[str, str] = {}  # left → right
        self.matched_right: dict[str, str] = {}
        self.published: dict[str, float] = {}  # left → score of its last MATCH event
        self.runner_ups = RunnerUps(book.scores, book.rights, book.lefts)  # unnamed margin

    def label(self, left: str, right: str, value: LabelValue, event_time: int) -> set[Pair]:
        """Record a label (rules in ``labels``); return the pairs whose standing changed."""
        return self.label_book.set(left, right, value, event_time)

    def restore_match(self, left: str, right: str, published: float) -> None:
        """A stored decision (restore): the match and the score its last MATCH event published,
        which is what the store keeps per left — one row per left, so any order rebuilds it."""
        self.matches[left], self.matched_right[right] = right, left
        self.published[left] = published

    def _weight(self, left: str, right: str) -> float | None:
        """Rank of an eligible pair (forced pairs outrank every score), None if ineligible."""
        score = self.book.scores.get((left, right))
        if score is None or self.labels.get((left, right)) is LabelValue.NON_MATCH:
            return None
        forced = self.forced_left.get(left), self.forced_right.get(right)
        if forced == (right, left):
            return float("inf")
        if forced != (None, None):
            return None
        return score if score >= self._limit(left, right) else None

    def _limit(self, left: str, right: str) -> float:
        """The pair's bar: to be made, and (lower by the hysteresis band) to stay."""
        settings = self.settings
        if settings.neighbourhood_rounds and not self.named(left, right):
            return float("inf")  # the neighbourhood stage matches these (decision 0025)
        bar = settings.match_threshold
        unnamed = (settings.unnamed_threshold is not None or settings.unnamed_margin is not None
                   ) and not self.named(left, right)
        if unnamed and settings.unnamed_threshold is not None:
            bar = settings.unnamed_threshold
        if unnamed and settings.unnamed_margin is not None:
            bar = max(bar, self.runner_ups.of(left, right) + settings.unnamed_margin)
        if self.matches.get(left) == right:
            return bar - (settings.match_threshold - settings.keep_threshold)
        return bar

    def _key(self, pair: tuple[str, str] | None) -> tuple[float, str, str] | None:
        """Order of an eligible pair, smaller first: higher weight, then left and right key.

        A strict total order: equal scores (duplicate entities) are broken by key exactly as
        the batch aligner's stable sort over key-ordered pairs breaks them, so the stable
        matching is unique and the local repair reaches the batch result in any batch order.
        """
        weight = None if pair is None else self._weight(*pair)
        return None if weight is None or pair is None else (-weight, pair[0], pair[1])

    def _blocking(self, left: str, right: str) -> tuple[float, str, str] | None:
        key = self._key((left, right))
        if key is None or self.matches.get(left) == right:
            return None
        mine = (left, self.matches[left]) if left in self.matches else None
        theirs = (self.matched_right[right], right) if right in self.matched_right else None
        held = [k for k in (self._key(mine), self._key(theirs)) if k is not None]
        return key if all(key < k for k in held) else None

    def update(self, pairs: Iterable[Pair], lefts: Iterable[str] = (),
               rights: Iterable[str] = ()) -> list[Change]:
        """Repair the matching after ``pairs`` changed (score, label or gone) and everything
        about ``lefts``/``rights`` may have (labels); return what to publish.

        The matching was stable before, so a pair can only block now if it changed itself or
        an entity's match did: those entities' pairs are all reconsidered, of the others only
        the changed pairs (most changed pairs touch no match).
        """
        pairs, lefts, rights = set(pairs), set(lefts), set(rights)
        self.runner_ups.clear()
        if self.settings.unnamed_margin is not None:  # a changed pair moves its entities'
            lefts.update(a for a, _ in pairs)  # runner-ups (``margin``)
            rights.update(b for _, b in pairs)
        involved = lefts | {a for a, _ in pairs}, rights | {b for _, b in pairs}
        before = {a: self.matches[a] for a in involved[0] if a in self.matches}
        before.update((self.matched_right[b], b) for b in involved[1] if b in self.matched_right)
        for left, right in before.items():
            if (left, right) in pairs or left in lefts or right in rights:
                lefts.add(left)
                rights.add(right)
                if self._weight(left, right) is None:
                    self._unmatch(left)
        if len(pairs) + len(lefts) + len(rights) >= rematch.BULK_SHARE * self.book.size_bound():
            self._rematch(before)  # most pairs changed: the same matching, from arrays
            return self._diff(before)
        heap: list[tuple[float, str, str]] = []
        self._push(heap, lefts, rights, pairs)
        while heap:
            _, left, right = heapq.heappop(heap)
            if self._blocking(left, right) is None:
                continue
            old_right, old_left = self._unmatch(left), self.matched_right.get(right)
            if old_left is not None:
                self._unmatch(old_left)
                before.setdefault(old_left, right)
            before.setdefault(left, old_right or "")
            self.matches[left], self.matched_right[right] = right, left
            self._push(heap, [old_left] if old_left else [], [old_right] if old_right else [])
        return self._diff(before)

    def _rematch(self, before: dict[str, str]) -> None:
        """Take the matching ``rematch`` computes; ``before`` gains every left it moves."""
        new = rematch.rematch(self)
        for left in self.matches.keys() | new.keys():
            if self.matches.get(left) != new.get(left):
                before.setdefault(left, self.matches.get(left) or "")
        self.matches.clear()
        self.matches.update(new)
        self.matched_right.clear()
        self.matched_right.update((b, a) for a, b in new.items())

    def _push(self, heap: list[tuple[float, str, str]], lefts: Iterable[str],
              rights: Iterable[str], pairs: Iterable[Pair] = ()) -> None:
        """Queue the blocking pairs among ``pairs`` and every pair of ``lefts``/``rights``."""
        todo = {(a, b) for a in lefts for b in self.book.rights.get(a, ())}
        todo.update((a, b) for b in rights for a in self.book.lefts.get(b, ()))
        todo.update(pairs)
        todo_list = list(todo)
        scores = self.book.scores.get_many(todo_list)  # one lookup: most are never eligible
        floor, forced = self.settings.keep_threshold, self.forced_left
        for i in np.flatnonzero(~np.isnan(scores)).tolist():
            left, right = todo_list[i]
            if scores[i] < floor and forced.get(left) != right:
                continue
            key = self._blocking(left, right)
            if key is not None:
                heapq.heappush(heap, key)

    def _unmatch(self, left: str) -> str | None:
        right = self.matches.pop(left, None)
        if right is not None:
            del self.matched_right[right]
        return right

    def _diff(self, before: dict[str, str]) -> list[Change]:
        """Events for every left whose match or published score moved, retractions first."""
        retracts, matches = [], []
        moved = sorted(before.items())
        news = [self.matches.get(left) for left, _ in moved]
        scores = self.book.scores  # both scores of every left in one lookup each, not a search
        was = scores.get_many([(left, old) for left, old in moved]).tolist()
        now = scores.get_many([(left, new or "") for (left, _), new in
                               zip(moved, news, strict=True)]).tolist()
        for (left, old), new, old_score, score in zip(moved, news, was, now, strict=True):
            published = self.published.get(left)
            if old and old != new:
                old_score = (published or 0.0) if math.isnan(old_score) else old_score
                retracts.append(Change(left, old, old_score, True,
                                       old_score if published is None else published))
                self.published.pop(left, None)
                published = None
            if new is None:
                continue
            if math.isnan(score):  # a match always has a score
                raise KeyError((left, new))
            if published is None or abs(score - published) > self.settings.min_score_delta:
                matches.append(Change(left, new, score, False, published))
                self.published[left] = score
        return retracts + matches
