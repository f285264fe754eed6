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
    row for the same pair replaces an earlier one; ``NaN``: the member leaves)."""

    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    def add(self, owners: np.ndarray, members: np.ndarray, scores: np.ndarray) -> None:
        if len(owners):
            self.parts.append((np.asarray(owners, dtype=np.int64),
                               np.asarray(members, dtype=np.int64),
                               np.asarray(scores, dtype=np.float64)))

    def latest(self, skip: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows (one per pair, the latest) of owners not in ``skip``."""
        if not self.parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        owner, member, score = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        keep = ~np.isin(owner, skip)
        owner, member, score = owner[keep], member[keep], score[keep]
        _, last = np.unique(((owner << 32) | member)[::-1], return_index=True)
        pick = len(owner) - 1 - last
        return owner[pick], member[pick], score[pick]


def merge(table: ListTable, bounds_of, rows: FreshRows, skip: np.ndarray, depth: int,
          k: int) -> tuple[Found, np.ndarray]:
    """Every list with fresh rows (its owner not in ``skip``) repaired; returns the repaired
    lists and the owners whose top-k became unknown (to search again).

    ``bounds_of(owners)`` reads the lists' current bounds (``-inf``: no list, or fewer than
    ``depth`` entities in the other graph, so nothing unlisted exists)."""
    owner, member, score = rows.latest(skip)
    owners = np.unique(owner)
    old_members, old_scores, old_lengths = table.rows(owners)
    slots = old_members >= 0
    o_owner = np.repeat(owners, old_lengths)
    o_member = old_members[slots].astype(np.int64)
    kept = ~np.isin((o_owner << 32) | o_member, (owner << 32) | member)
    live = ~np.isnan(score)
    owner = np.concatenate([o_owner[kept], owner[live]])
    member = np.concatenate([o_member[kept], member[live]])
    score = np.concatenate([old_scores[slots].astype(np.float64)[kept], score[live]])
    order = np.lexsort((-member, -score, owner))
    owner, member, score = owner[order], member[order], score[order]
    group = np.searchsorted(owners, owner)
    rank = np.arange(len(owner)) - np.searchsorted(owner, owners)[group]
    count = np.bincount(group, minlength=len(owners))
    bound = np.asarray(bounds_of(owners), dtype=np.float64)
    reached = np.bincount(group[(rank < k) & (score >= bound[group])], minlength=len(owners))
    unknown = (bound != _NONE) & (reached < k)
    cut = rank == depth
    bound[group[cut]] = np.maximum(bound[group[cut]], score[cut])
    ok = np.flatnonzero(~unknown)
    at = np.full(len(owners), -1, dtype=np.int64)
    at[ok] = np.arange(len(ok))
    put = (rank < depth) & ~unknown[group]
    members = np.full((len(ok), depth), -1, dtype=np.int64)
    scores = np.zeros((len(ok), depth), dtype=np.float32)
    members[at[group[put]], rank[put]] = member[put]
    scores[at[group[put]], rank[put]] = score[put]
    found = Found(owners[ok], members, scores, np.minimum(count[ok], depth), bound[ok])
    return found, owners[unknown]
