"""Apply triple changes to the in-memory mirrors and record them; reject bad input, never raise.

Rejections become dead letters (``Rejection.reason``): ``unknown_graph``, ``missing_triple``
(REMOVE of a triple that does not exist), ``delete_unknown_entity``. Sizes were checked once,
at decode (``events.limits``); every applied change is recorded as graph rows of the batch's
``StateDelta`` carrying its position, so should the store still refuse one, the writer names
it in an ``InputFailedError`` (the caller rolls back, rebuilds the engine, dead-letters it).
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
from stream_align.engine.decisions import Decider
from stream_align.engine.delta import GraphOp, GraphRow, LabelRow, StateDelta
from stream_align.engine.errors import InputFailedError, Rejection
from stream_align.engine.mutable_graph import NAME, MutableGraph
from stream_align.engine.progress import Progress, counted, no_progress
from stream_align.engine.settings import EngineSettings
from stream_align.events.contracts import Label, TripleChange, TripleOp


@dataclass
class Applied:
    """What a batch of changes did, per graph (index 0 = left, 1 = right)."""

    delta: StateDelta
    touched: tuple[set[int], set[int]] = field(default_factory=lambda: (set(), set()))
    causes: Causes = field(default_factory=Causes)
    upserted: tuple[set[int], set[int]] = field(default_factory=lambda: (set(), set()))
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)
    position: int = 0  # of the change being applied (its rows carry it)
    known: tuple[dict[str, int], dict[str, int]] = field(default_factory=lambda: ({}, {}))
    """Per graph, the node of each key this batch's triples looked up or created: a key keeps
    its node for the graph's life (``KeyIndex``: a deleted entity's too), and the index's
    probe in Python costs ≈ 10× a dict's lookup — a bulk batch looks each entity up about
    eight times (decision 0105). Transient: dropped when the apply ends."""

    def touch(self, side: int, node: int, change: TripleChange) -> None:
        self.touched[side].add(node)
        self.causes.touch(side, node, change.event_id, change.event_time)

    def touch_edge(self, side: int, head: int, tail: int, change: TripleChange) -> None:
        """``touch`` of ``head``, then of ``tail`` (a triple's two ends: one call a triple)."""
        touched = self.touched[side]
        touched.add(head)
        touched.add(tail)
        self.causes.touch_edge(side, head, tail, change.event_id, change.event_time)

    def row(self, op: GraphOp, graph_id: str, head: str, *rest: object) -> None:
        """Record one applied graph change for the store (``StateDelta.graph``)."""
        self.delta.graph.append(GraphRow(self.position, op, graph_id, head, *rest))


def _unchanged(graph: MutableGraph, change: TripleChange) -> bool:
    i = graph.index.get(change.head)
    entity = None if i is None else graph.entity(i)
    if entity is None:
        return False
    attrs = dict(change.attributes)
    return (entity.type, entity.name, entity.attributes) == (
        change.entity_type or "", attrs.pop(NAME, ""), attrs)


def _apply_one(graph: MutableGraph, side: int, change: TripleChange,
               out: Applied) -> Rejection | None:
    gid, head = graph.graph_id, change.head
    if change.op is TripleOp.UPSERT_ENTITY:
        if not _unchanged(graph, change):
            node = graph.upsert(head, change.entity_type or "", change.attributes)
            out.touch(side, node, change)
            out.upserted[side].add(node)  # features (and maybe type) changed
            out.row(GraphOp.UPSERT_ENTITY, gid, head, "", "", change.entity_type or "",
                    tuple(change.attributes.items()))
        return None
    if change.op is TripleOp.DELETE_ENTITY:
        if not graph.alive(head):
            return Rejection("delete_unknown_entity", f"{gid}/{head} does not exist")
        for h, _, t in graph.delete(head):
            out.touch(side, h, change)
            out.touch(side, t, change)
        out.touch(side, graph.index[head], change)
        out.row(GraphOp.DELETE_ENTITY, gid, head)
        return None
    return _apply_triple(graph, side, change, out)


def _node(graph: MutableGraph, known: dict[str, int], key: str) -> int | None:
    """``key``'s node if it is alive (``known``: ``Applied.known`` of this graph)."""
    i = known.get(key)
    if i is None:
        i = graph.index.get(key)
        if i is None:
            return None
        known[key] = i
    return i if graph.is_alive(i) else None


def _apply_triple(graph: MutableGraph, side: int, change: TripleChange,
                  out: Applied) -> Rejection | None:
    gid, head = graph.graph_id, change.head
    relation, tail = change.relation or "", change.tail or ""  # the contract requires both
    known = out.known[side]
    h = _node(graph, known, head)  # one lookup a key (a bulk load applies a triple a record)
    t = h if tail == head else _node(graph, known, tail)
    if (h is None or t is None) and change.op is TripleOp.REMOVE_TRIPLE:
        return Rejection("missing_triple", f"{gid}: no entity {head if h is None else tail!r}")
    if h is None:  # an ADD before its endpoint's UPSERT: create it bare
        h = _bare(graph, side, head, change, out)
        if tail == head:
            t = h
    if t is None:
        t = _bare(graph, side, tail, change, out)
    r = graph.relation_id(relation)
    if change.op is TripleOp.ADD_TRIPLE:
        changed = graph.add_triple(h, r, t)
        op = GraphOp.ADD_TRIPLE
    else:
        if not graph.remove_triple(h, r, t):
            return Rejection("missing_triple", f"{gid}: no triple ({head}, {relation}, {tail})")
        changed, op = True, GraphOp.REMOVE_TRIPLE
    if changed:
        out.row(op, gid, head, relation, tail)
        out.touch_edge(side, h, t, change)
    return None


def _bare(graph: MutableGraph, side: int, key: str, change: TripleChange, out: Applied) -> int:
    """A bare entity for ``key`` (no type, no attributes), recorded."""
    node = out.known[side][key] = graph.upsert(key, "", {})
    out.touch(side, node, change)
    out.upserted[side].add(node)
    out.row(GraphOp.UPSERT_ENTITY, graph.graph_id, key)
    return node


def apply_changes(delta: StateDelta, graphs: Sequence[MutableGraph], settings: EngineSettings,
                  changes: Sequence[TripleChange], progress: Progress = no_progress) -> Applied:
    """Apply ``changes`` in order to ``graphs`` (left, right), recording them in ``delta``;
    raises only ``InputFailedError`` (naming the change that raised)."""
    out = Applied(delta)
    with graphs[0].held_merges(), graphs[1].held_merges():
        _apply_all(graphs, settings, changes, progress, out)
    out.known = ({}, {})  # not held through the batch's recompute
    return out


def _apply_all(graphs: Sequence[MutableGraph], settings: EngineSettings,
               changes: Sequence[TripleChange], progress: Progress, out: Applied) -> None:
    for position, change in enumerate(counted(changes, progress, "apply", len(changes))):
        out.position = position
        if change.graph not in settings.graph_ids:
            error: Rejection | None = Rejection(
                "unknown_graph", f"graph {change.graph!r} is not one of {settings.graph_ids}")
        else:
            side = settings.graph_ids.index(change.graph)
            try:
                error = _apply_one(graphs[side], side, change, out)
            except Exception as exc:  # which change, for the caller; the cause is kept
                raise InputFailedError("change", position) from exc
        if error is not None:
            out.rejected.append((position, error))


def apply_labels(delta: StateDelta, decider: Decider, labels: Sequence[Label],
                 causes: Causes) -> list[tuple[str, str]]:
    """Apply and record ``labels`` in order; return the pairs whose standing changed (each
    label's cause is recorded on their entities). A label naming an entity neither graph has
    yet is kept: labels and triples travel on different topics, so it applies once both exist."""
    changed: set[tuple[str, str]] = set()
    for position, label in enumerate(labels):
        delta.labels.append(LabelRow(position, label.left, label.right, label.label.value,
                                     label.source, label.event_time))
        pairs = decider.label(label.left, label.right, label.label, label.event_time)
        causes.label(pairs, label.event_id, label.event_time)
        changed |= pairs
    return sorted(changed)
