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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

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

    def closure(self, side: int, samples: Callable[[int], Iterable[int]], limit: int
                ) -> ClosureCauses:
        """What reached each entity of graph ``side`` through its closure, from causes cut by
        :meth:`first` (see :class:`ClosureCauses`)."""
        return ClosureCauses(self, side, samples, limit)


_Found = tuple[list[str], int | None]
_Ranked = tuple[list[int], int | None]


class ClosureCauses:
    """The ``limit`` smallest cause ids (sorted) and the latest time of an entity whose scores
    read ``L(x) = x ∪ S(x) ∪ S(S(x))``, merged hop by hop.

    ``L(x) = {x} ∪ ⋃_{y ∈ S(x)} ({y} ∪ S(y))``, and the ``limit`` smallest ids of a union are the
    ``limit`` smallest of its parts' ``limit`` smallest (as in :meth:`Causes.first`), so each
    node's one-hop part is merged once and kept (``_hop``): an event then merges ≤ k + 2 short
    sorted lists instead of the ≈ 330 nodes of its closure (a bulk refresh's 17,743 events
    shared most of their closures), with the same ids and time as pooling ``L(x)``. The ids
    are merged as their ranks in the sorted ids of the side (an int set and sort, not one of
    32-character strings: most of the bulk refresh's cause time, decision 0059).
    """

    def __init__(self, causes: Causes, side: int, samples: Callable[[int], Iterable[int]],
                 limit: int) -> None:
        ids, entity_ids = causes.nodes[side], causes.entities[side]
        self._vocab = sorted({x for found in (*ids.values(), *entity_ids.values())
                              for x in found})
        rank = {x: r for r, x in enumerate(self._vocab)}
        self._ids = {node: [rank[x] for x in found] for node, found in ids.items()}
        self._entity_ids = {key: [rank[x] for x in found] for key, found in entity_ids.items()}
        self._times, self._entity_times = causes.node_time[side], causes.entity_time[side]
        self._samples, self._limit = samples, limit
        self._hops: dict[int, _Ranked] = {}

    def of(self, key: str, node: int | None) -> _Found:
        """Entity ``key`` (``node``: its node, ``None`` if it has none)."""
        found = [(self._entity_ids.get(key, []), self._entity_times.get(key))]
        if node is not None:
            found.append(self._own(node))
            found.extend(self._hop(y) for y in self._samples(node))
        ranks, when = _merged(found, self._limit)
        return [self._vocab[r] for r in ranks], when

    def _own(self, node: int) -> _Ranked:
        when = self._times.get(node)
        return ([], None) if when is None else (self._ids.get(node, []), when)

    def _hop(self, node: int) -> _Ranked:
        """``{node} ∪ S(node)``'s part, merged once."""
        found = self._hops.get(node)
        if found is None:
            own = [self._own(node), *(self._own(y) for y in self._samples(node))]
            found = self._hops[node] = _merged(own, self._limit)
        return found


def _merged(found: list[tuple[list[T], int | None]], limit: int
            ) -> tuple[list[T], int | None]:
    times = [when for _, when in found if when is not None]
    return smallest([ids for ids, _ in found if ids], limit), max(times) if times else None


def smallest(parts: Iterable[list[T]], limit: int) -> list[T]:
    """The ``limit`` smallest distinct ids of sorted lists, sorted: each list's first
    ``limit`` pooled in a set and sorted (C loops over ≤ (k + 2) · ``limit`` ids; a
    ``heapq.merge`` generator was a Python step per id, most of a bulk refresh's events)."""
    pooled: set[T] = set()
    for ids in parts:
        pooled.update(ids[:limit])
    return sorted(pooled)[:limit]
