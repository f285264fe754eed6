"""Apply triple changes to the in-memory mirrors and the store; reject bad input, never raise.

Rejections become dead letters (``Rejection.reason``): ``unknown_graph``, ``missing_triple``
(REMOVE of a triple that does not exist), ``delete_unknown_entity``. Sizes were checked once,
at decode (``events.limits``); should the store still refuse a change, the change is named in
an ``InputFailedError`` (the caller rolls back, rebuilds the engine and dead-letters it).
An ADD naming an entity not upserted yet creates it bare (no type, no attributes): the input
topic is partitioned by ``graph/head``, so an entity's UPSERT and a triple pointing at it
travel in different partitions and may arrive in either order; the UPSERT fills the entity in
whenever it comes, and the end state is the same either way.
Re-delivered events are no-ops: an ADD of an existing triple and an UPSERT that changes nothing
touch nothing, so they cost no recompute and publish nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from stream_align.engine.causes import Causes
from stream_align.engine.errors import InputFailedError, Rejection
from stream_align.engine.mutable_graph import NAME, MutableGraph
from stream_align.engine.progress import Progress, counted, no_progress
from stream_align.engine.settings import EngineSettings
from stream_align.events.contracts import TripleChange, TripleOp
from stream_align.store.transaction import Transaction


@dataclass
class Applied:
    """What a batch of changes did, per graph (index 0 = left, 1 = right)."""

    touched: tuple[set[int], set[int]] = field(default_factory=lambda: (set(), set()))
    causes: Causes = field(default_factory=Causes)
    upserted: tuple[set[int], set[int]] = field(default_factory=lambda: (set(), set()))
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)

    def touch(self, side: int, node: int, change: TripleChange) -> None:
        self.touched[side].add(node)
        self.causes.touch(side, node, change.event_id, change.event_time)


def _unchanged(graph: MutableGraph, change: TripleChange) -> bool:
    i = graph.index.get(change.head)
    entity = None if i is None else graph.entities[i]
    if entity is None:
        return False
    attrs = dict(change.attributes)
    return (entity.type, entity.name, entity.attributes) == (
        change.entity_type or "", attrs.pop(NAME, ""), attrs)


def _apply_one(tx: Transaction, graph: MutableGraph, side: int, change: TripleChange,
               out: Applied) -> Rejection | None:
    gid, head = graph.graph_id, change.head
    if change.op is TripleOp.UPSERT_ENTITY:
        if not _unchanged(graph, change):
            node = graph.upsert(head, change.entity_type or "", change.attributes)
            out.touch(side, node, change)
            out.upserted[side].add(node)  # features (and maybe type) changed
            tx.graph.upsert_entity(gid, head, change.entity_type or "", change.attributes)
        return None
    if change.op is TripleOp.DELETE_ENTITY:
        if not graph.alive(head):
            return Rejection("delete_unknown_entity", f"{gid}/{head} does not exist")
        for h, _, t in graph.delete(head):
            out.touch(side, h, change)
            out.touch(side, t, change)
        out.touch(side, graph.index[head], change)
        tx.graph.delete_entity(gid, head)
        return None
    return _apply_triple(tx, graph, side, change, out)


def _apply_triple(tx: Transaction, graph: MutableGraph, side: int, change: TripleChange,
                  out: Applied) -> Rejection | None:
    gid, head = graph.graph_id, change.head
    relation, tail = change.relation or "", change.tail or ""  # the contract requires both
    missing = [key for key in (head, tail) if not graph.alive(key)]
    if missing and change.op is TripleOp.REMOVE_TRIPLE:
        return Rejection("missing_triple", f"{gid}: no entity {missing[0]!r}")
    for key in dict.fromkeys(missing):  # an ADD before its endpoint's UPSERT: create it bare
        node = graph.upsert(key, "", {})
        out.touch(side, node, change)
        out.upserted[side].add(node)
        tx.graph.upsert_entity(gid, key, "", {})
    h, r, t = graph.index[head], graph.relation_id(relation), graph.index[tail]
    if change.op is TripleOp.ADD_TRIPLE:
        changed = graph.add_triple(h, r, t)
        if changed:
            tx.graph.add_triple(gid, head, relation, tail)
    else:
        if not graph.remove_triple(h, r, t):
            return Rejection("missing_triple", f"{gid}: no triple ({head}, {relation}, {tail})")
        changed = tx.graph.remove_triple(gid, head, relation, tail)
    if changed:
        out.touch(side, h, change)
        out.touch(side, t, change)
    return None


def apply_changes(tx: Transaction, graphs: Sequence[MutableGraph], settings: EngineSettings,
                  changes: Sequence[TripleChange], progress: Progress = no_progress) -> Applied:
    """Apply ``changes`` in order to ``graphs`` (left, right) and ``tx.graph``; raises only
    ``InputFailedError`` (naming the change that raised)."""
    out = Applied()
    for position, change in enumerate(counted(changes, progress, "apply", len(changes))):
        if change.graph not in settings.graph_ids:
            error: Rejection | None = Rejection(
                "unknown_graph", f"graph {change.graph!r} is not one of {settings.graph_ids}")
        else:
            side = settings.graph_ids.index(change.graph)
            try:
                error = _apply_one(tx, graphs[side], side, change, out)
            except Exception as exc:  # which change, for the caller; the cause is kept
                raise InputFailedError("change", position) from exc
        if error is not None:
            out.rejected.append((position, error))
    return out
