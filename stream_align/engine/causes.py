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

from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from stream_align.engine import cause_ids

K = TypeVar("K")
T = TypeVar("T", str, int)


def _later(times: dict[K, int], key: K, when: int) -> None:
    old = times.get(key)
    if old is None or when > old:
        times[key] = when


def _first(ids: dict[K, list[str]], limit: int) -> dict[K, list[str]]:
    return {key: sorted(set(found))[:limit] for key, found in ids.items()}


def _side_columns() -> tuple[array, array]:
    return array("i"), array("i")


@dataclass
class Causes:
    """Causing input ids and their latest time, per node (triples) and entity key (labels).

    A triple change's causes are kept as columns, not Python objects: each input id once as
    UTF-8 bytes in one ``bytearray`` with its end and time, and each touch as a node and the
    id's entry in ``int32`` ``array`` columns (8 bytes a touch; they were ``int64``,
    decision 0114: entries count a drain's inputs and nodes a graph's entities, both far
    below 2**31). The ids and times were the decoded
    inputs' own ``str`` and ``int`` objects in a list per node; held over a bulk load's drain
    they kept every pymalloc pool those objects shared with the batch's temporaries resident —
    the load's largest residue (decision 0077). Labels are few: their causes stay dicts.

    While every id is 32 lowercase hex digits (``new_event_id``'s, the inputs' usual form) the
    blob holds each as its 16 bytes and no ends (an entry is 16 bytes at ``16 × i``): 24 of an
    entry's ≈ 70 bytes over a bulk load's drain, held until its events (decision 0138). The
    first other id turns the blob back into text with ends (``_unpack``); the hex bytes sort
    as their text does, so the order an event names its ids by is the same."""

    entities: tuple[dict[str, list[str]], dict[str, list[str]]] = field(
        default_factory=lambda: ({}, {}))
    entity_time: tuple[dict[str, int], dict[str, int]] = field(
        default_factory=lambda: ({}, {}))
    _blob: bytearray = field(default_factory=bytearray)  # every id entry's UTF-8 bytes
    _ends: array = field(default_factory=lambda: array("q"))  # entry i: blob[ends[i-1]:ends[i]]
    _time: array = field(default_factory=lambda: array("q"))  # entry i's input time
    _node: tuple[array, array] = field(default_factory=_side_columns)  # per side, per touch
    _entry: tuple[array, array] = field(default_factory=_side_columns)
    _last: tuple[object, int] | None = None  # the last entry's id and time (a change's
    # touches share one entry)
    _packed: bool = True  # every entry's id as its 16 hex bytes, no ends (see the class)

    def touch(self, side: int, node: int, event_id: str, event_time: int) -> None:
        """A triple change touched ``node`` of graph ``side`` (0 = left, 1 = right)."""
        last = self._last
        if last is None or last[0] is not event_id or last[1] != event_time:
            self._add(event_id)
            self._time.append(event_time)
            self._last = (event_id, event_time)
        self._node[side].append(node)
        self._entry[side].append(len(self._time) - 1)

    def _add(self, event_id: str) -> None:
        """Append ``event_id``'s entry to the blob (packed while every id allows it)."""
        if self._packed:
            raw = cause_ids.packed_id(event_id)
            if raw is not None:
                self._blob += raw
                return
            self._unpack()
        self._blob += event_id.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._blob))

    def _unpack(self) -> None:
        """The packed entries as their text, with ends: another id is coming."""
        self._blob, self._ends = cause_ids.unpacked(self._blob)
        self._packed = False

    def touch_edge(self, side: int, head: int, tail: int, event_id: str, event_time: int
                   ) -> None:
        """``touch`` of ``head``, then of ``tail``, by one change (a triple's two ends)."""
        self.touch(side, head, event_id, event_time)
        self._node[side].append(tail)
        self._entry[side].append(len(self._time) - 1)

    def touch_many(self, sides: list[int], nodes: tuple[list[int], list[int]],
                   changes: Sequence[tuple[str, int]]) -> None:
        """``touch(sides[k], node, *changes[k])`` for each touch ``k`` in order, where
        ``nodes[side]`` holds each side's touched nodes in that order (a run of a bulk batch's
        triples and the bare entities they created): the same entries and columns, one loop.
        A change's touches pass the same ``changes`` tuple."""
        last, blob, ends, times = self._last, self._blob, self._ends, self._time
        entry = len(times) - 1
        entries: tuple[list[int], list[int]] = ([], [])
        before, packed_id = None, cause_ids.packed_id if self._packed else None
        for side, change in zip(sides, changes, strict=True):
            if change is not before:
                before = change
                event_id, event_time = change
                if last is None or last[0] is not event_id or last[1] != event_time:
                    if packed_id is not None and (raw := packed_id(event_id)) is not None:
                        blob += raw
                    else:
                        if packed_id is not None:  # the first other id: text from here on
                            self._unpack()
                            packed_id, blob, ends = None, self._blob, self._ends
                        blob += event_id.encode("utf-8", "surrogatepass")
                        ends.append(len(blob))
                    times.append(event_time)
                    entry += 1
                    last = (event_id, event_time)
            entries[side].append(entry)
        self._last = last
        for side in (0, 1):
            self._node[side].extend(nodes[side])
            self._entry[side].extend(entries[side])

    def label(self, pairs: Iterable[tuple[str, str]], event_id: str, event_time: int) -> None:
        """A label changed the standing of ``pairs``: it causes both entities' decisions."""
        for pair in pairs:
            for side, key in enumerate(pair):
                self.entities[side].setdefault(key, []).append(event_id)
                _later(self.entity_time[side], key, event_time)

    def merge(self, other: Causes) -> None:
        """Add ``other``'s causes (held work accumulating over calls): its columns appended,
        its entries renumbered after this one's."""
        if self._packed and not other._packed:
            self._unpack()
        base, offset = len(self._time), len(self._blob)
        if self._packed:  # both packed: the entries' bytes, ends implicit
            self._blob += other._blob
        else:
            blob, ends = (cause_ids.unpacked(other._blob) if other._packed
                          else (other._blob, other._ends))
            self._blob += blob
            self._ends.frombytes((_column(ends) + offset).tobytes())
        self._time.extend(other._time)
        for side in (0, 1):
            self._node[side].extend(other._node[side])
            self._entry[side].frombytes((_column(other._entry[side]) + np.int32(base)).tobytes())
            for key, ids in other.entities[side].items():
                self.entities[side].setdefault(key, []).extend(ids)
            for key, when in other.entity_time[side].items():
                _later(self.entity_time[side], key, when)
        self._last = None

    def first(self, limit: int) -> Causes:
        """Each entity's ``limit`` smallest ids (times kept); the nodes' columns as they are
        (``closure`` keeps each node's ``limit`` smallest): the ``limit`` smallest of a union
        are among its parts', so an event's ``cause`` is the same from these."""
        return Causes((_first(self.entities[0], limit), _first(self.entities[1], limit)),
                      self.entity_time, self._blob, self._ends, self._time, self._node,
                      self._entry, _packed=self._packed)

    def node_ids(self, side: int) -> dict[int, list[str]]:
        """Every node's causing ids, as touched (a read for tests and tools: objects per
        touch)."""
        out: dict[int, list[str]] = {}
        for node, entry in zip(self._node[side], self._entry[side], strict=True):
            out.setdefault(node, []).append(self._id(entry))
        return out

    def node_times(self, side: int) -> dict[int, int]:
        """Every touched node's latest input time (a read for tests and tools)."""
        out: dict[int, int] = {}
        for node, entry in zip(self._node[side], self._entry[side], strict=True):
            _later(out, node, self._time[entry])
        return out

    def _id(self, entry: int) -> str:
        if self._packed:
            return self._blob[16 * entry:16 * entry + 16].hex()
        start = self._ends[entry - 1] if entry else 0
        return self._blob[start:self._ends[entry]].decode("utf-8", "surrogatepass")

    def vocabulary(self) -> cause_ids.Vocabulary:
        """Every held id ranked once for both sides: the entries', then the labels' (left's
        entities, then right's, in their lists' order)."""
        labels = [x for side in (0, 1) for found in self.entities[side].values() for x in found]
        if self._packed:
            return cause_ids.Vocabulary.of_packed(self._blob, labels)
        return cause_ids.Vocabulary(self._blob, _column(self._ends), labels)

    def closure(self, side: int, table: Callable[[np.ndarray], np.ndarray], limit: int,
                vocab: cause_ids.Vocabulary | None = None) -> ClosureCauses:
        """What reached each entity of graph ``side`` through its closure (see
        :class:`ClosureCauses`; ``table``: the sampled neighbours of an array of nodes, one
        row each, ``-1`` past a node's samples, as ``SampleIndex.slot_table``'s first array;
        ``vocab``: :meth:`vocabulary`, made here if not given — both sides' closures of one
        refresh share one)."""
        return ClosureCauses(self, side, table, limit, vocab or self.vocabulary())


def _column(column: array) -> np.ndarray:
    """An ``array`` column as numpy (no copy)."""
    dtype = np.int64 if column.typecode == "q" else np.int32
    return np.frombuffer(column, dtype=dtype) if len(column) else np.zeros(0, dtype)


_Found = tuple[list[str], int | None]
_NO_TIME = cause_ids.NO_TIME
_CELLS = 1 << 20
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
    of an ``int`` matrix padded past each list's end, every row at once
    (:func:`cause_ids.smallest_rows`); merging them as Python sets, one entity at a time, was
    most of a bulk refresh's event time (decision 0066).
    """

    def __init__(self, causes: Causes, side: int, table: Callable[[np.ndarray], np.ndarray],
                 limit: int, vocab: cause_ids.Vocabulary) -> None:
        entries = _column(causes._entry[side])
        self._vocab, self._pad = vocab, vocab.pad
        self._table, self._limit = table, limit
        self._row, self._own, self._own_time = cause_ids.node_rows(
            _column(causes._node[side]), vocab.rank[entries], _column(causes._time)[entries],
            limit, self._pad)
        before = sum(len(found) for found in causes.entities[0].values()) if side else 0
        label_ranks, at = vocab.rank[len(causes._time) + before:].tolist(), 0
        self._entity_ranks: dict[str, list[int]] = {}
        for key, found in causes.entities[side].items():
            self._entity_ranks[key] = sorted(set(label_ranks[at:at + len(found)]))
            at += len(found)
        self._entity_times = causes.entity_time[side]

    def of(self, key: str, node: int | None) -> _Found:
        """Entity ``key`` (``node``: its node, ``None`` if it has none)."""
        return self.of_many([(key, node)])[0]

    def of_many(self, entities: Sequence[tuple[str | None, int | None]]) -> list[_Found]:
        """:meth:`of` for each ``(key, node)``; a ``None`` key has no causes."""
        return self.rows_of_many(entities).found()

    def rows_of_many(self, entities: Sequence[tuple[str | None, int | None]]
                     ) -> cause_ids.CauseRows:
        """:meth:`of_many` as rows of ranks, named only when read: a refresh's events hold
        ≈ 3 × ``limit`` ids each until they are staged, as ``str`` objects ≈ 7 KB an event.
        Every hop's merge once, then the entities :data:`_CELLS` cells at a time — their
        neighbours, hop rows and merges a span at a time, not over every entity at once."""
        nodes = np.array([-1 if key is None or node is None else node
                          for key, node in entities], dtype=np.int64)
        label_at, label_rows = self._labelled([key for key, _ in entities])
        when = np.array([_NO_TIME if key is None else self._entity_times.get(key, _NO_TIME)
                         for key, _ in entities], dtype=np.int64)
        spans = _spans(len(nodes), (self._width() + 2) * self._limit)
        hops = np.unique(np.concatenate([np.zeros(0, np.int64), *(
            np.unique(near[near >= 0]) for near in map(self._sampled, (nodes[r] for r in spans)))]))
        hop_ids, hop_time = self._merged(hops)
        found = np.full((len(nodes), self._limit), self._pad, dtype=self._own.dtype)
        latest = np.zeros(len(nodes), dtype=np.int64)
        for rows in spans:
            near = self._sampled(nodes[rows])  # S(x), -1 padded
            at = np.where(near >= 0, np.searchsorted(hops, near), len(hops))  # empty hop: last
            mine = self._own_rows(nodes[rows])
            parts = np.concatenate([label_rows[label_at[rows], None], self._own[mine, None],
                                    hop_ids[at]], axis=1)
            found[rows] = cause_ids.smallest_rows(parts.reshape(len(parts), -1), self._limit,
                                                  self._pad)
            latest[rows] = np.max(np.column_stack(
                [when[rows], self._own_time[mine], hop_time[at]]), axis=1)
        return cause_ids.CauseRows(self._vocab, found, latest, self._pad)

    def _labelled(self, keys: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """Each key's row of label ranks (0: none) and those rows (:meth:`_ranked`): rows
        only for the keys with labels, not a padded row for every entity asked."""
        lists = [() if key is None else self._entity_ranks.get(key, ()) for key in keys]
        some = [i for i, found in enumerate(lists) if found]
        at = np.zeros(len(lists), dtype=np.int64)
        at[some] = np.arange(1, len(some) + 1)
        return at, self._ranked([lists[i] for i in some])

    def _ranked(self, lists: Sequence[Sequence[int]]) -> np.ndarray:
        """Rows of ranks (each list sorted and distinct), the first ``limit`` of each,
        padded, after an empty row 0."""
        out = np.full((len(lists) + 1, self._limit), self._pad, dtype=self._own.dtype)
        limit = self._limit
        lengths = np.fromiter((min(len(found), limit) for found in lists), dtype=np.int64,
                              count=len(lists))
        if lengths.sum():
            flat = [x for found in lists for x in found[:limit]]
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

    def _merged(self, hops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The smallest ids and latest time of each hop ``{y} ∪ S(y)``, :data:`_CELLS` cells
        at a time, and an empty row last (for ``-1``)."""
        ids = np.full((len(hops) + 1, self._limit), self._pad, dtype=self._own.dtype)
        latest = np.full(len(hops) + 1, _NO_TIME, dtype=np.int64)
        for span in _spans(len(hops), (self._width() + 1) * self._limit):
            parts = np.concatenate([hops[span, None], self._sampled(hops[span])], 1)
            rows = self._own_rows(parts.ravel()).reshape(parts.shape)
            ids[span] = cause_ids.smallest_rows(self._own[rows].reshape(len(rows), -1),
                                                self._limit, self._pad)
            latest[span] = self._own_time[rows].max(axis=1, initial=_NO_TIME)
        return ids, latest

    def _width(self) -> int:
        """Sampled neighbours a node (the table's columns)."""
        return self._table(np.zeros(0, dtype=np.int64)).shape[1]


def _spans(rows: int, width: int) -> list[slice]:
    """Row spans of at most :data:`_CELLS` cells of ``width``."""
    step = max(1, _CELLS // max(width, 1))
    return [slice(a, min(a + step, rows)) for a in range(0, rows, step)]


def smallest(parts: Iterable[list[T]], limit: int) -> list[T]:
    """The ``limit`` smallest distinct ids of sorted lists, sorted: each list's first
    ``limit`` pooled in a set and sorted (C loops over ≤ (k + 2) · ``limit`` ids; a
    ``heapq.merge`` generator was a Python step per id, most of a bulk refresh's events)."""
    pooled: set[T] = set()
    for ids in parts:
        pooled.update(ids[:limit])
    return sorted(pooled)[:limit]
