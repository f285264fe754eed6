"""The inputs that caused a decision, and the time of the latest of them.

A triple change causes the decisions whose scores read a node it touched: an embedding of
``x`` reads ``L(x) = x ∪ S(x) ∪ S(S(x))`` (``affected``), so a change touching a node of ``L``
of either entity of a pair (or of the left entity's new partner) is a cause. A label causes the
decisions of the entities whose standing it changed (``LabelBook.set``'s pairs).

An event's ``cause`` lists at most ``max_cause_ids`` of those ids (the smallest, so it is the
same whatever the batch order); its ``event_time`` is the latest ``event_time`` among *all* of
them (``latest_of``), kept per node and per entity as a running maximum so the truncation of
the id list never changes it. This is the schema's definition (``AlignmentEvent.event_time``):
an input of the same batch that did not reach the decision never sets its time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

import numpy as np

K = TypeVar("K")
T = TypeVar("T", str, int)


def _later(times: dict[K, int], key: K, when: int) -> None:
    old = times.get(key)
    if old is None or when > old:
        times[key] = when


def _first(ids: dict[K, list[str]], limit: int) -> dict[K, list[str]]:
    return {key: sorted(set(found))[:limit] for key, found in ids.items()}


@dataclass
class Causes:
    """Causing input ids and their latest time, per node (triples) and entity key (labels)."""

    nodes: tuple[dict[int, list[str]], dict[int, list[str]]] = field(
        default_factory=lambda: ({}, {}))
    node_time: tuple[dict[int, int], dict[int, int]] = field(
        default_factory=lambda: ({}, {}))
    entities: tuple[dict[str, list[str]], dict[str, list[str]]] = field(
        default_factory=lambda: ({}, {}))
    entity_time: tuple[dict[str, int], dict[str, int]] = field(
        default_factory=lambda: ({}, {}))

    def touch(self, side: int, node: int, event_id: str, event_time: int) -> None:
        """A triple change touched ``node`` of graph ``side`` (0 = left, 1 = right)."""
        self.nodes[side].setdefault(node, []).append(event_id)
        _later(self.node_time[side], node, event_time)

    def label(self, pairs: Iterable[tuple[str, str]], event_id: str, event_time: int) -> None:
        """A label changed the standing of ``pairs``: it causes both entities' decisions."""
        for pair in pairs:
            for side, key in enumerate(pair):
                self.entities[side].setdefault(key, []).append(event_id)
                _later(self.entity_time[side], key, event_time)

    def merge(self, other: Causes) -> None:
        """Add ``other``'s causes (held work accumulating over calls)."""
        for side in (0, 1):
            for node, ids in other.nodes[side].items():
                self.nodes[side].setdefault(node, []).extend(ids)
            for key, ids in other.entities[side].items():
                self.entities[side].setdefault(key, []).extend(ids)
            for node, when in other.node_time[side].items():
                _later(self.node_time[side], node, when)
            for key, when in other.entity_time[side].items():
                _later(self.entity_time[side], key, when)

    def first(self, limit: int) -> Causes:
        """Each node's and entity's ``limit`` smallest ids (times kept): the ``limit`` smallest
        of a union are among its parts', so an event's ``cause`` is the same from these — and a
        hub touched by thousands of a snapshot's triples is not walked again for every event
        whose closure reaches it."""
        return Causes((_first(self.nodes[0], limit), _first(self.nodes[1], limit)),
                      self.node_time,
                      (_first(self.entities[0], limit), _first(self.entities[1], limit)),
                      self.entity_time)

    def closure(self, side: int, table: Callable[[np.ndarray], np.ndarray], limit: int
                ) -> ClosureCauses:
        """What reached each entity of graph ``side`` through its closure, from causes cut by
        :meth:`first` (see :class:`ClosureCauses`; ``table``: the sampled neighbours of an
        array of nodes, one row each, ``-1`` past a node's samples, as
        ``SampleIndex.slot_table``'s first array)."""
        return ClosureCauses(self, side, table, limit)


_Found = tuple[list[str], int | None]
_NO_TIME = np.iinfo(np.int64).min
_CELLS = 1 << 22
"""Cells of one chunk of merged rows (a bound on the transient, whatever the batch size)."""


class ClosureCauses:
    """The ``limit`` smallest cause ids (sorted) and the latest time of an entity whose scores
    read ``L(x) = x ∪ S(x) ∪ S(S(x))``, merged hop by hop.

    ``L(x) = {x} ∪ ⋃_{y ∈ S(x)} ({y} ∪ S(y))``, and the ``limit`` smallest ids of a union are the
    ``limit`` smallest of its parts' ``limit`` smallest (as in :meth:`Causes.first`), so each
    hop ``{y} ∪ S(y)`` is merged once for all the entities asked together: an entity then
    merges ≤ k + 2 short sorted lists instead of the ≈ 330 nodes of its closure (a bulk
    refresh's 17,600 events shared most of their closures), with the same ids and time as
    pooling ``L(x)``. The ids are merged as their ranks in the sorted ids of the side, as rows
    of an ``int`` matrix padded past each list's end, every row at once (:func:`_smallest`);
    merging them as Python sets, one entity at a time, was most of a bulk refresh's event
    time (decision 0066).
    """

    def __init__(self, causes: Causes, side: int, table: Callable[[np.ndarray], np.ndarray],
                 limit: int) -> None:
        ids, entity_ids = causes.nodes[side], causes.entities[side]
        self._vocab = sorted({x for found in (*ids.values(), *entity_ids.values())
                              for x in found})
        self._rank = {x: r for r, x in enumerate(self._vocab)}
        self._pad = np.iinfo(np.int32).max if len(self._vocab) < np.iinfo(np.int32).max \
            else np.iinfo(np.int64).max
        self._table, self._limit = table, limit
        times = causes.node_time[side]
        nodes = np.fromiter(times, dtype=np.int64, count=len(times))
        self._row = np.zeros(int(nodes.max()) + 1 if len(nodes) else 0, dtype=np.int64)
        self._row[nodes] = np.arange(1, len(nodes) + 1)  # row 0: no causes
        self._own = self._ranked([ids.get(node, ()) for node in times])
        self._own_time = np.fromiter((_NO_TIME, *times.values()), dtype=np.int64,
                                     count=len(times) + 1)
        self._entity_ids, self._entity_times = entity_ids, causes.entity_time[side]

    def of(self, key: str, node: int | None) -> _Found:
        """Entity ``key`` (``node``: its node, ``None`` if it has none)."""
        return self.of_many([(key, node)])[0]

    def of_many(self, entities: Sequence[tuple[str | None, int | None]]) -> list[_Found]:
        """:meth:`of` for each ``(key, node)``; a ``None`` key has no causes."""
        nodes = np.array([-1 if key is None or node is None else node
                          for key, node in entities], dtype=np.int64)
        entity = self._ranked([() if key is None else self._entity_ids.get(key, ())
                               for key, _ in entities])[1:]
        when = [_NO_TIME if key is None else self._entity_times.get(key, _NO_TIME)
                for key, _ in entities]
        near = self._sampled(nodes)  # S(x), -1 padded
        hops = np.unique(near[near >= 0])
        hop_ids, hop_time = self._merged(np.concatenate([hops[:, None], self._sampled(hops)], 1))
        hop_ids = np.concatenate([hop_ids, np.full((1, self._limit), self._pad, hop_ids.dtype)])
        hop_time = np.append(hop_time, _NO_TIME)
        at = np.where(near >= 0, np.searchsorted(hops, near), len(hops))  # empty hop: last
        mine = self._own_rows(nodes)
        found, latest = [], []
        for rows in _spans(len(nodes), (at.shape[1] + 2) * self._limit):
            parts = np.concatenate([entity[rows, None], self._own[mine[rows], None],
                                    hop_ids[at[rows]]], axis=1)
            found.append(_smallest(parts.reshape(len(parts), -1), self._limit, self._pad))
            latest.append(np.max(np.column_stack(
                [np.array(when[rows], dtype=np.int64), self._own_time[mine[rows]],
                 hop_time[at[rows]]]), axis=1))
        return self._named(np.concatenate(found) if found else entity, np.concatenate(latest)
                           if latest else np.zeros(0, dtype=np.int64))

    def _ranked(self, lists: Sequence[Collection[str]]) -> np.ndarray:
        """Rows of ranks, padded, after an empty row 0 (each list sorted, ≤ ``limit``)."""
        out = np.full((len(lists) + 1, self._limit), self._pad,
                      dtype=np.int32 if self._pad == np.iinfo(np.int32).max else np.int64)
        limit = self._limit
        lengths = np.fromiter((min(len(found), limit) for found in lists), dtype=np.int64,
                              count=len(lists))
        if lengths.sum():
            rank = self._rank
            flat = [rank[x] for found in lists for x in list(found)[:limit]]
            rows = np.repeat(np.arange(1, len(lists) + 1), lengths)
            starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
            out[rows, np.arange(len(flat)) - starts] = flat
        return out

    def _own_rows(self, nodes: np.ndarray) -> np.ndarray:
        """Each node's row of ``_own`` (0: a node with no causes, or ``-1``)."""
        rows = np.zeros(len(nodes), dtype=np.int64)
        inside = (nodes >= 0) & (nodes < len(self._row))
        rows[inside] = self._row[nodes[inside]]
        return rows

    def _sampled(self, nodes: np.ndarray) -> np.ndarray:
        """``S(node)`` of each node, ``-1`` padded (none for ``-1``)."""
        live = nodes >= 0
        got = self._table(nodes[live])
        out = np.full((len(nodes), got.shape[1]), -1, dtype=np.int64)
        out[live] = got
        return out

    def _merged(self, parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The smallest ids and latest time of each row of nodes (``-1``: none)."""
        rows = np.where(parts >= 0, self._own_rows(parts.ravel()).reshape(parts.shape), 0)
        ids = [_smallest(self._own[rows[span]].reshape(len(rows[span]), -1), self._limit,
                         self._pad) for span in _spans(len(rows), rows.shape[1] * self._limit)]
        merged = np.concatenate(ids) if ids else np.zeros((0, self._limit), self._own.dtype)
        return merged, self._own_time[rows].max(axis=1, initial=_NO_TIME)

    def _named(self, ranks: np.ndarray, latest: np.ndarray) -> list[_Found]:
        """Rows of ranks back to the ids they stand for; ``_NO_TIME`` back to ``None``."""
        counts = np.count_nonzero(ranks != self._pad, axis=1).tolist()
        names = iter([self._vocab[r] for r in ranks[ranks != self._pad].tolist()])
        return [(list(islice(names, n)), None if t == _NO_TIME else t)
                for n, t in zip(counts, latest.tolist(), strict=True)]


def _spans(rows: int, width: int) -> list[slice]:
    """Row spans of at most :data:`_CELLS` cells of ``width``."""
    step = max(1, _CELLS // max(width, 1))
    return [slice(a, min(a + step, rows)) for a in range(0, rows, step)]


def _smallest(ids: np.ndarray, limit: int, pad: int) -> np.ndarray:
    """Each row's ``limit`` smallest distinct values, sorted, padded with ``pad``: a sort,
    each repeat turned to ``pad``, a second sort (numpy's vectorised sorts of short rows)."""
    ids = np.sort(ids, axis=1)
    repeat = np.zeros(ids.shape, dtype=bool)
    repeat[:, 1:] = ids[:, 1:] == ids[:, :-1]
    ids[repeat] = pad
    ids.sort(axis=1)
    return ids[:, :limit]


def smallest(parts: Iterable[list[T]], limit: int) -> list[T]:
    """The ``limit`` smallest distinct ids of sorted lists, sorted: each list's first
    ``limit`` pooled in a set and sorted (C loops over ≤ (k + 2) · ``limit`` ids; a
    ``heapq.merge`` generator was a Python step per id, most of a bulk refresh's events)."""
    pooled: set[T] = set()
    for ids in parts:
        pooled.update(ids[:limit])
    return sorted(pooled)[:limit]
