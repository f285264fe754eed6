"""The list repair of a batch as one numpy pass, not one Python merge per list.

A batch's changed vectors give each affected list some *fresh* rows ``(owner, member, score)``:
a new score for a member it holds or a vector that now reaches its bound, or ``NaN`` for a member
that left (deleted, or in IVF mode out of the cells the list probes). Repairing a list is merging
those rows into it (a fresh row replaces the member's old score), ordering it best first, cutting
it at ``depth`` and raising the bound to the first score cut. Where fewer than ``k`` of the
first ``k`` scores reach the bound, a member fell below it and an unlisted entity may now
beat it: the list's top-k is unknown and it is searched again (``k``: what must stay exact —
``top_k``, or with CSLS the ``csls_depth`` entries it re-ranks, decision 0036).

A Python merge per list cost most of a small batch (each changed vector enters many lists;
decision 0029 and docs/BENCHMARKS.md have the measurements). Here all rows of a batch
are merged at once: the owners' rows are gathered from the :class:`ListTable`, concatenated with
the fresh rows, sorted by ``(owner, score desc, member desc)`` — the order ``sorted(..., reverse=
True)`` gave each list, so ties split as before — and ranked within their owner. The work is
``O(r log r)`` for the ``r`` rows of the lists that changed, nothing per entity of the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stream_align import setops
from stream_align.engine.list_table import ListTable

_NONE = float("-inf")


@dataclass(frozen=True)
class Found:
    """New lists: row ``i`` replaces ``owners[i]``'s list with ``members[i, :lengths[i]]``
    (best first, ``-1`` beyond) and its bound with ``bounds[i]``."""

    owners: np.ndarray  # int64 (n,)
    members: np.ndarray  # int64 (n, w)
    scores: np.ndarray  # float32 (n, w)
    lengths: np.ndarray  # int64 (n,)
    bounds: np.ndarray  # float64 (n,)

    @staticmethod
    def searched(owners: np.ndarray, members: np.ndarray, scores: np.ndarray, depth: int
                 ) -> Found:
        """Lists from searches for the top ``depth`` (``-1``: no hit; searches fill from the
        front): the bound is the ``depth``-th score, or ``-inf`` if fewer came back."""
        members, scores = members[:, :depth], scores[:, :depth]
        lengths = np.count_nonzero(members >= 0, axis=1)
        bounds = np.full(len(owners), _NONE)
        if members.shape[1] == depth and depth:
            full = lengths == depth
            bounds[full] = scores[full, depth - 1]
        return Found(np.asarray(owners, dtype=np.int64), members, scores, lengths, bounds)

    @staticmethod
    def empty(owners: np.ndarray, depth: int) -> Found:
        """Empty lists (nothing to search: the other graph has no vectors)."""
        return Found.searched(owners, np.zeros((len(owners), 0), np.int64),
                              np.zeros((len(owners), 0), np.float32), depth)

    @staticmethod
    def concat(parts: list[Found]) -> Found:
        """One :class:`Found` of several (rows padded to the widest)."""
        width = max((p.members.shape[1] for p in parts), default=0)
        return Found(
            np.concatenate([p.owners for p in parts] or [np.zeros(0, np.int64)]),
            np.concatenate([_pad(p.members, width, -1) for p in parts]
                           or [np.zeros((0, 0), np.int64)]),
            np.concatenate([_pad(p.scores, width, 0.0) for p in parts]
                           or [np.zeros((0, 0), np.float32)]),
            np.concatenate([p.lengths for p in parts] or [np.zeros(0, np.int64)]),
            np.concatenate([p.bounds for p in parts] or [np.zeros(0)]))


def _pad(a: np.ndarray, width: int, fill: float) -> np.ndarray:
    if a.shape[1] >= width:
        return a
    out = np.full((len(a), width), fill, dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


@dataclass
class FreshRows:
    """Fresh ``(owner, member, score)`` rows of one side's lists, in arrival order (a later
    row for the same pair replaces an earlier one; ``NaN``: the member leaves), and the owners
    of *short* lists a changed vector would enter (``short``)."""

    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    shorts: list[np.ndarray] = field(default_factory=list)

    def add(self, owners: np.ndarray, members: np.ndarray, scores: np.ndarray) -> None:
        if len(owners):
            self.parts.append((np.asarray(owners, dtype=np.int64),
                               np.asarray(members, dtype=np.int64),
                               np.asarray(scores, dtype=np.float64)))

    def short(self, owners: np.ndarray) -> None:
        """Lists with bound ``-inf`` (fewer than ``depth`` members: the other graph had fewer
        vectors where they search when they were set) that changed vectors reach: each is
        searched again instead of taking one row per changed vector — every changed vector
        enters such a list, so while the other graph fills (a load that recomputes graph A
        before B) rows would number changed vectors × lists (decision 0044)."""
        if len(owners):
            self.shorts.append(np.asarray(owners, dtype=np.int64))

    def short_owners(self) -> np.ndarray:
        """The distinct owners of :meth:`short`, ascending."""
        return setops.unique(np.concatenate(self.shorts)) if self.shorts else \
            np.zeros(0, dtype=np.int64)

    def latest(self, skip: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows (one per pair, the latest) of owners not in ``skip``."""
        if not self.parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        owner, member, score = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        keep = ~setops.isin(owner, skip)
        owner, member, score = owner[keep], member[keep], score[keep]
        _, last = np.unique(((owner << 32) | member)[::-1], return_index=True)
        pick = len(owner) - 1 - last
        return owner[pick], member[pick], score[pick]


def merge(table: ListTable, bounds_of, rows: FreshRows, skip: np.ndarray, depth: int,
          k: int) -> tuple[Found, np.ndarray]:
    """Every list with fresh rows (its owner not in ``skip``) repaired; returns the repaired
    lists and the owners whose top-k became unknown (to search again).

    ``bounds_of(owners)`` reads the lists' current bounds (``-inf``: no list, or fewer than
    ``depth`` entities in the other graph, so nothing unlisted exists). Each owner's old row
    and fresh rows go into one row of a matrix that is sorted row by row (:func:`_order`)."""
    owner, member, score = rows.latest(skip)  # sorted by (owner, member)
    owners, first, per = np.unique(owner, return_index=True, return_counts=True)
    group = np.repeat(np.arange(len(owners)), per)
    old_members, old_scores, _ = table.rows(owners)
    replaced = np.zeros(old_members.shape, dtype=bool)  # old entries a fresh row replaces
    at, col = np.nonzero(old_members[group] == member[:, None])
    replaced[group[at], col] = True
    live = ~np.isnan(score)
    slot = np.arange(len(owner)) - first[group]
    width = old_members.shape[1] + (int(per.max()) if len(per) else 0)
    members = np.full((len(owners), width), -1, dtype=np.int64)
    scores = np.full((len(owners), width), -np.inf)
    kept = (old_members >= 0) & ~replaced
    members[:, :old_members.shape[1]] = np.where(kept, old_members, -1)
    scores[:, :old_members.shape[1]] = np.where(kept, old_scores, -np.inf)
    members[group[live], old_members.shape[1] + slot[live]] = member[live]
    scores[group[live], old_members.shape[1] + slot[live]] = score[live]
    order = _order(members, scores)
    members = np.take_along_axis(members, order, axis=1)[:, :depth + 1]
    scores = np.take_along_axis(scores, order, axis=1)[:, :depth + 1]
    filled = members >= 0
    bound = np.asarray(bounds_of(owners), dtype=np.float64)
    reached = np.count_nonzero(filled[:, :k] & (scores[:, :k] >= bound[:, None]), axis=1)
    unknown = (bound != _NONE) & (reached < k)
    if members.shape[1] > depth:  # the first score cut raises the bound
        cut = filled[:, depth]
        bound[cut] = np.maximum(bound[cut], scores[cut, depth])
    ok = ~unknown
    out_members = np.full((int(ok.sum()), depth), -1, dtype=np.int64)
    out_scores = np.zeros((int(ok.sum()), depth), dtype=np.float32)
    shown = min(depth, members.shape[1])
    out_members[:, :shown] = np.where(filled[ok, :shown], members[ok, :shown], -1)
    out_scores[:, :shown] = np.where(filled[ok, :shown], scores[ok, :shown], 0.0)
    lengths = np.minimum(np.count_nonzero(filled[ok], axis=1), depth)
    return Found(owners[ok], out_members, out_scores, lengths, bound[ok]), owners[unknown]


def _order(members: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per row, the column order best first: score descending, then member descending (the
    order ``sorted(..., reverse=True)`` gave each list), empty slots (``-1``) last. Scores are
    float32 values (inner products computed in float32), so score and member pack into one
    ``uint64`` key per entry — a float's bits made monotone above the member's 32 bits — and
    a row sorts by one key with no ties but between empty slots."""
    bits = (scores.astype(np.float32) + np.float32(0.0)).view(np.uint32).astype(np.uint64)
    monotone = np.where(bits >= 0x80000000, ~bits & 0xFFFFFFFF, bits | 0x80000000)
    keys = np.where(members >= 0, (monotone << np.uint64(32)) | members.astype(np.uint64),
                    np.uint64(0))
    return np.argsort(keys, axis=1)[:, ::-1]
