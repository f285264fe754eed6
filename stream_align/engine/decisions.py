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

The matching and the repair are kept in node ids (the pair book's, decision 0047): a changed
pair arrives packed ``left << 32 | right``, an entity's pairs and scores are read from the book
by node, and only the heap's tie-break and the published changes read key strings — the key
strings of a refresh's changed pairs were ≈ 1 KB an entity at a bulk refresh's peak, and
turning nodes into keys and back most of the repair's time. ``matches``, ``matched_right`` and
``published`` stay readable by key (views).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from stream_align import setops
from stream_align.engine import packed, rematch
from stream_align.engine.labels import LabelBook, LabelNodes
from stream_align.engine.margin import RunnerUps
from stream_align.engine.node_map import NodeMap
from stream_align.engine.pair_book import PairBook
from stream_align.engine.settings import EngineSettings
from stream_align.events.contracts import LabelValue

Pair = tuple[str, str]
Rank = tuple[float, str, str, int, int]
"""A queued pair: ``-weight``, its keys (the tie-break), its nodes."""
V = TypeVar("V")


@dataclass(frozen=True)
class Change:
    """A published decision that changed: a new match, a retraction, or a moved score."""

    left: str
    right: str
    score: float
    retract: bool
    previous_score: float | None  # published score of the MATCH it replaces, if any


class _ByKey(Mapping[str, V], Generic[V]):
    """A read-only view by key of a mapping by node (``value`` turns a stored value into the
    view's: a node into its key)."""

    def __init__(self, nodes: NodeMap, mine: object, value: Callable[[object], V]
                 ) -> None:
        self._nodes, self._mine, self._value = nodes, mine, value

    def __getitem__(self, key: str) -> V:
        node = self._mine.index.get(key)  # type: ignore[attr-defined]
        if node is None or node not in self._nodes:
            raise KeyError(key)
        return self._value(self._nodes[node])

    def __iter__(self) -> Iterator[str]:
        keys = self._mine.keys  # type: ignore[attr-defined]
        return (keys[node] for node in self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)


class Decider:
    """Labels, current matches (with their published scores) and the stable-matching repair.
    ``named(left, right)``: whether both nodes have a name; ``named_many``: ``named`` of each
    pair of two arrays of nodes (by default ``named`` of one pair after another)."""

    narrow_from = 64
    """Pairs from which the eligibility and blocking tests run on arrays first (``_recheck``,
    ``_contenders``); below, numpy's fixed cost a call exceeds the Python tests'."""

    def __init__(self, settings: EngineSettings, book: PairBook,
                 named: Callable[[int, int], bool] = lambda left, right: True,
                 named_many: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                 ) -> None:
        self.settings, self.book, self.named = settings, book, named
        self.named_many = named_many or (lambda lefts, rights: np.fromiter(
            map(named, lefts.tolist(), rights.tolist()), bool, len(lefts)))
        self.label_book = LabelBook()
        self.labels = self.label_book.labels
        self.forced_left = self.label_book.forced_left
        self.forced_right = self.label_book.forced_right
        self.left_match = NodeMap()  # left node → right node
        self.right_match = NodeMap()  # right node → left node
        self.published_at = NodeMap(floats=True)  # left node → score of its last MATCH event
        self.runner_ups = RunnerUps(book)  # unnamed margin
        left, right = book.vocabularies
        self._keys = left.keys, right.keys
        self.matches: Mapping[str, str] = _ByKey(self.left_match, left, right.keys.__getitem__)
        self.matched_right: Mapping[str, str] = _ByKey(self.right_match, right,
                                                       left.keys.__getitem__)
        self.published: Mapping[str, float] = _ByKey(self.published_at, left, float)
        self._labels_seen = 0  # labels recorded (``label_nodes``' cache is for one count)
        self._label_nodes: tuple[tuple[int, ...], LabelNodes] | None = None

    def label(self, left: str, right: str, value: LabelValue, event_time: int) -> set[Pair]:
        """Record a label (rules in ``labels``); return the pairs whose standing changed."""
        self._labels_seen += 1
        return self.label_book.set(left, right, value, event_time)

    def restore_match(self, left: str, right: str, published: float) -> None:
        """A stored decision (restore): the match and the score its last MATCH event published,
        which is what the store keeps per left — one row per left, so any order rebuilds it."""
        u, v = self.book.node_of(0, left), self.book.node_of(1, right)
        if u is None or v is None:  # not a mirror's entity: it has no pair to hold it
            return
        self.left_match[u], self.right_match[v] = v, u
        self.published_at[u] = published

    def _weight(self, left: int, right: int) -> float | None:
        """Rank of an eligible pair (forced pairs outrank every score), None if ineligible."""
        score = self.book.score(left, right)
        if score is None:
            return None
        if self.labels:
            a, b = self._keys[0][left], self._keys[1][right]
            if self.labels.get((a, b)) is LabelValue.NON_MATCH:
                return None
            forced = self.forced_left.get(a), self.forced_right.get(b)
            if forced == (b, a):
                return float("inf")
            if forced != (None, None):
                return None
        return score if score >= self._limit(left, right) else None

    def _limit(self, left: int, right: int) -> float:
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
        if self.left_match.get(left) == right:
            return bar - (settings.match_threshold - settings.keep_threshold)
        return bar

    def _rank(self, left: int, right: int) -> Rank | None:
        """Order of an eligible pair, smaller first: higher weight, then left and right key.

        A strict total order: equal scores (duplicate entities) are broken by key exactly as
        the batch aligner's stable sort over key-ordered pairs breaks them, so the stable
        matching is unique and the local repair reaches the batch result in any batch order.
        """
        weight = self._weight(left, right)
        return None if weight is None else (-weight, self._keys[0][left],
                                            self._keys[1][right], left, right)

    def _blocking(self, left: int, right: int) -> Rank | None:
        if self.left_match.get(left) == right:
            return None
        rank = self._rank(left, right)
        if rank is None:
            return None
        mine = self.left_match.get(left)
        theirs = self.right_match.get(right)
        held = [r for r in (None if mine is None else self._rank(left, mine),
                            None if theirs is None else self._rank(theirs, right))
                if r is not None]
        return rank if all(rank < r for r in held) else None

    def update(self, pairs: np.ndarray, lefts: Iterable[int] = (),
               rights: Iterable[int] = ()) -> list[Change]:
        """Repair the matching after ``pairs`` (packed ``left << 32 | right``, sorted and
        distinct) changed (score, label or gone) and everything about the nodes ``lefts`` /
        ``rights`` may have (labels); return what to publish.

        The matching was stable before, so a pair can only block now if it changed itself or
        an entity's match did: those entities' pairs are all reconsidered, of the others only
        the changed pairs (most changed pairs touch no match).
        """
        lefts, rights = set(lefts), set(rights)
        pair_lefts, pair_rights = (set(setops.unique(x).tolist()) for x in packed.split(pairs))
        self.runner_ups.clear()
        if self.settings.unnamed_margin is not None:  # a changed pair moves its entities'
            lefts |= pair_lefts  # runner-ups (``margin``)
            rights |= pair_rights
        mine = _nodes(lefts | pair_lefts)
        theirs = _nodes(rights | pair_rights)
        del pair_lefts, pair_rights  # every changed pair's entities (a bulk refresh: all of
        # them, as sets of ``int`` objects): not held through the rematch (decision 0133)
        partner, partner_of = self.left_match.of(mine), self.right_match.of(theirs)
        before = dict(zip(mine[partner >= 0].tolist(), partner[partner >= 0].tolist(),
                          strict=True))
        before.update(zip(partner_of[partner_of >= 0].tolist(),
                          theirs[partner_of >= 0].tolist(), strict=True))
        if before:
            self._recheck(before, pairs, lefts, rights)
        if len(pairs) + len(lefts) + len(rights) >= rematch.BULK_SHARE * self.book.size_bound():
            self._rematch(before)  # most pairs changed: the same matching, from arrays
            return self._diff(before)
        self._repair(before, lefts, rights, pairs)
        return self._diff(before)

    def _recheck(self, before: dict[int, int], pairs: np.ndarray, lefts: set[int],
                 rights: set[int]) -> None:
        """The matches in ``before`` whose pair changed or whose entity is reconsidered join
        ``lefts``/``rights``; those no longer eligible are undone (weights as arrays where
        ``rematch.weights`` gives ``_weight``'s: without the unnamed margin)."""
        held = np.fromiter(before.items(), dtype=np.dtype((np.int64, 2)), count=len(before))
        us, vs = held[:, 0], held[:, 1]
        again = (_within(packed.join(us, vs), pairs) | setops.isin(us, _nodes(lefts))
                 | setops.isin(vs, _nodes(rights)))
        us, vs = us[again], vs[again]
        lefts.update(us.tolist())
        rights.update(vs.tolist())
        if len(us) > self.narrow_from and self.settings.unnamed_margin is None:
            gone = np.isnan(rematch.weights(self, us, vs, self.book.node_scores(us, vs)))
        else:
            gone = np.array([self._weight(u, v) is None for u, v in zip(
                us.tolist(), vs.tolist(), strict=True)], dtype=bool)
        for left in us[gone].tolist():
            self._unmatch(left)

    def _repair(self, before: dict[int, int], lefts: set[int], rights: set[int],
                pairs: np.ndarray) -> None:
        """Resolve blocking pairs, highest first; ``before`` gains every left that moves."""
        heap: list[Rank] = []
        self._push(heap, lefts, rights, pairs)
        while heap:
            *_, left, right = heapq.heappop(heap)
            if self._blocking(left, right) is None:
                continue
            old_right, old_left = self._unmatch(left), self.right_match.get(right)
            if old_left is not None:
                self._unmatch(old_left)
                before.setdefault(old_left, right)
            before.setdefault(left, -1 if old_right is None else old_right)
            self.left_match[left], self.right_match[right] = right, left
            self._push(heap, set() if old_left is None else {old_left},
                       set() if old_right is None else {old_right})

    def _rematch(self, before: dict[int, int]) -> None:
        """Take the matching ``rematch`` computes; ``before`` gains every left it moves."""
        new = rematch.rematch(self)
        for left in self.left_match.keys() | new.keys():
            if self.left_match.get(left) != new.get(left):
                before.setdefault(left, self.left_match.get(left, -1))
        self.left_match.clear()
        self.left_match.update(new.items())
        self.right_match.clear()
        self.right_match.update((b, a) for a, b in new.items())

    def _push(self, heap: list[Rank], lefts: set[int], rights: set[int],
              pairs: np.ndarray | None = None) -> None:
        """Queue the blocking pairs among ``pairs`` and every pair of ``lefts``/``rights``
        (found and filtered as arrays: most pairs score below any bar or below a match of
        theirs; ``_blocking`` decides the rest)."""
        todo = self.book.pairs_of(_nodes(lefts), _nodes(rights))
        if pairs is not None and len(pairs):
            todo = setops.union1d(todo, pairs)
        us, vs = packed.split(todo)
        scores = self.book.node_scores(us, vs)  # NaN: not scored
        keep = scores >= self.settings.keep_threshold  # below: only a forced pair is eligible
        below = ~keep & ~np.isnan(scores)
        if self.forced_left and below.any():
            keep |= below & setops.isin(us, self.label_nodes().governed)
        us, vs, scores = us[keep], vs[keep], scores[keep]
        if len(us) > self.narrow_from and self.settings.unnamed_margin is None:
            contend = self._contenders(us, vs, scores)
            us, vs = us[contend], vs[contend]
        for left, right in zip(us.tolist(), vs.tolist(), strict=True):
            rank = self._blocking(left, right)
            if rank is not None:
                heapq.heappush(heap, rank)

    def _contenders(self, us: np.ndarray, vs: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Which pairs ``(us[i], vs[i])`` may block: eligible, not a match, and not ranked
        below a match of either entity by weight alone — what ``_blocking`` needs, with the
        weights as arrays (``rematch.weights``: the same weights; the runner-ups of the
        unnamed margin are not, so not with a margin). Equal weights stay contenders: the
        keys break those."""
        mine, theirs = self.left_match.of(us), self.right_match.of(vs)
        a, b = mine >= 0, theirs >= 0
        lefts = np.concatenate([us, us[a], theirs[b]])
        rights = np.concatenate([vs, mine[a], vs[b]])
        held = self.book.node_scores(lefts[len(us):], rights[len(us):])
        weight = rematch.weights(self, lefts, rights, np.concatenate([scores, held]))
        own, rest = weight[:len(us)], weight[len(us):]
        behind = np.zeros(len(us), dtype=bool)
        behind[a] = own[a] < rest[:np.count_nonzero(a)]  # NaN (not eligible): not behind
        behind[b] |= own[b] < rest[np.count_nonzero(a):]
        return ~np.isnan(own) & (mine != vs) & ~behind

    def label_nodes(self) -> LabelNodes:
        """The labels by node, cached until the next label — or, while a label names a key
        without a node, until either graph gains one."""
        left, right = self.book.vocabularies
        stamp: tuple[int, ...] = (self._labels_seen,)
        if self._label_nodes is not None and self._label_nodes[0][0] == self._labels_seen:
            held = self._label_nodes
            if len(held[0]) == 1 or held[0] == (*stamp, len(left.keys), len(right.keys)):
                return held[1]
        found = LabelNodes.of(self.label_book, left.index, right.index)
        if found.unresolved:
            stamp = (*stamp, len(left.keys), len(right.keys))
        self._label_nodes = stamp, found
        return found

    def _unmatch(self, left: int) -> int | None:
        right = self.left_match.pop(left, None)
        if right is not None:
            self.right_match.pop(right)
        return right

    def _diff(self, before: dict[int, int]) -> list[Change]:
        """Events for every left whose match or published score moved, retractions first (in
        left key order; the lefts that publish nothing are told apart as arrays)."""
        lefts = np.fromiter(before, dtype=np.int64, count=len(before))
        olds = np.fromiter(before.values(), dtype=np.int64, count=len(before))
        news, published = self.left_match.of(lefts), self.published_at.of(lefts)
        was, now = self.book.node_scores(lefts, olds), self.book.node_scores(lefts, news)
        retract = (olds >= 0) & (olds != news)
        publish = (news >= 0) & (retract | np.isnan(published) | np.isnan(now)
                                 | (np.abs(now - published) > self.settings.min_score_delta))
        lk, rk = self._keys
        retracts, matches = [], []
        for i in sorted(np.flatnonzero(retract | publish).tolist(), key=lambda i: lk[lefts[i]]):
            left, old, new = int(lefts[i]), int(olds[i]), int(news[i])
            prior = self.published_at.pop(left, None) if retract[i] else None
            if retract[i]:
                old_score = (prior or 0.0) if math.isnan(was[i]) else float(was[i])
                retracts.append(Change(lk[left], rk[old], old_score, True,
                                       old_score if prior is None else prior))
            if not publish[i]:
                continue
            if math.isnan(now[i]):  # a match always has a score
                raise KeyError((lk[left], rk[new]))
            score, prior = float(now[i]), None if retract[i] else self.published_at.get(left)
            matches.append(Change(lk[left], rk[new], score, False, prior))
            self.published_at[left] = score
        return retracts + matches


def _nodes(nodes: set[int]) -> np.ndarray:
    return np.fromiter(nodes, dtype=np.int64, count=len(nodes))


def _within(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Which ``keys`` are in the sorted ``sorted_keys``."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys
