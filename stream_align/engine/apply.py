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
from stream_align.engine.progress import SCAN_REPORT_EVERY, Progress, no_progress
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
    return _remove_triple(graph, side, change, out)


def _node(graph: MutableGraph, known: dict[str, int], key: str) -> int | None:
    """``key``'s node if it is alive (``known``: ``Applied.known`` of this graph)."""
    i = known.get(key)
    if i is None:
        i = graph.index.get(key)
        if i is None:
            return None
        known[key] = i
    return i if graph.is_alive(i) else None


def _remove_triple(graph: MutableGraph, side: int, change: TripleChange,
                   out: Applied) -> Rejection | None:
    """A REMOVE_TRIPLE (an ADD goes in a run: ``_add_run``)."""
    gid, head = graph.graph_id, change.head
    relation, tail = change.relation or "", change.tail or ""  # the contract requires both
    known = out.known[side]
    h = _node(graph, known, head)
    t = h if tail == head else _node(graph, known, tail)
    if h is None or t is None:
        return Rejection("missing_triple", f"{gid}: no entity {head if h is None else tail!r}")
    if not graph.remove_triple(h, graph.relation_id(relation), t):
        return Rejection("missing_triple", f"{gid}: no triple ({head}, {relation}, {tail})")
    out.row(GraphOp.REMOVE_TRIPLE, gid, head, relation, tail)
    out.touch_edge(side, h, t, change)
    return None


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
    """Each change in order: a run of added triples at once (``_add_run``), anything else one
    at a time; a report every ``SCAN_REPORT_EVERY``."""
    total, position = len(changes), 0
    progress("apply", 0, total)
    while position < total:
        limit = min(total, (position // SCAN_REPORT_EVERY + 1) * SCAN_REPORT_EVERY)
        stop = _add_run(graphs, settings.graph_ids, changes, position, limit, out)
        if stop == position:
            _apply_at(graphs, settings, changes[position], position, out)
            stop += 1
        if stop % SCAN_REPORT_EVERY == 0 and stop < total:
            progress("apply", stop, total)
        position = stop
    progress("apply", total, total)


def _apply_at(graphs: Sequence[MutableGraph], settings: EngineSettings, change: TripleChange,
              position: int, out: Applied) -> None:
    """One change (``position`` of the batch), rejected or applied."""
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


@dataclass
class _Run:
    """The ADD_TRIPLE changes of a run, as columns: each one's side, nodes and relation, and
    the bare entities the run created for them, in order (the index in the run of the change
    that created each, its side, node and key)."""

    changes: list[TripleChange] = field(default_factory=list)
    sides: list[int] = field(default_factory=list)
    heads: list[int] = field(default_factory=list)
    relations: list[int] = field(default_factory=list)
    tails: list[int] = field(default_factory=list)
    bare: list[tuple[int, int, int, str]] = field(default_factory=list)

    def node(self, graph: MutableGraph, side: int, known: dict[str, int], key: str) -> int:
        """``key``'s node; if it is not alive, a bare entity for it (no type, no attributes)."""
        node = _node(graph, known, key)
        if node is None:
            node = known[key] = graph.upsert(key, "", {})
            self.bare.append((len(self.changes), side, node, key))
        return node


def _add_run(graphs: Sequence[MutableGraph], ids: tuple[str, ...],
             changes: Sequence[TripleChange], start: int, limit: int, out: Applied) -> int:
    """Apply the changes from ``start`` (before ``limit``) that add a triple to a known graph,
    up to the first that does not; return its position. Such a change is never rejected: its
    nodes (an end not alive created bare, the head first) and relation id are found in order
    first, then its edges, rows, touches and causes go in at once, in the order the changes
    one at a time leave them. A backlog read a partition chunk at a time has
    triples naming entities whose upsert is in a chunk not read yet: their bare creations stay
    inside the run (a run cut at each was a few triples long, decision 0122)."""
    run, position = _Run(), start
    try:
        while position < limit:
            change = changes[position]
            if change.op is not TripleOp.ADD_TRIPLE or change.graph not in ids:
                break
            side = ids.index(change.graph)
            graph, known, head, tail = graphs[side], out.known[side], change.head, change.tail
            h = run.node(graph, side, known, head)
            t = h if tail == head else run.node(graph, side, known, tail or "")
            run.changes.append(change)
            run.sides.append(side)
            run.heads.append(h)
            run.relations.append(graph.relation_id(change.relation or ""))
            run.tails.append(t)
            position += 1
    except Exception as exc:  # which change, for the caller; the cause is kept
        raise InputFailedError("change", position) from exc
    if run.changes:
        _add_edges(graphs, start, run, out)
    return position


def _add_edges(graphs: Sequence[MutableGraph], start: int, run: _Run, out: Applied) -> None:
    """A run's triples (from position ``start``) into the graphs; in change order, the rows,
    touches and causes of each bare entity it created and of each triple it added."""
    added = [False] * len(run.changes)
    for side in (0, 1):
        if at := [i for i, s in enumerate(run.sides) if s == side]:
            for i, was in zip(at, graphs[side].add_triples(
                    [run.heads[i] for i in at], [run.relations[i] for i in at],
                    [run.tails[i] for i in at]), strict=True):
                added[i] = was
    gids = (graphs[0].graph_id, graphs[1].graph_id)
    rows, bare = out.delta.graph, run.bare
    sides: list[int] = []
    nodes: tuple[list[int], list[int]] = ([], [])
    causes: list[tuple[str, int]] = []
    upserted: tuple[list[int], list[int]] = ([], [])
    next_bare = bare[0][0] if bare else -1
    b = 0
    for i, change in enumerate(run.changes):
        cause = (change.event_id, change.event_time)
        while i == next_bare:
            _, side, node, key = bare[b]
            rows.append(GraphRow(start + i, GraphOp.UPSERT_ENTITY, gids[side], key))
            sides.append(side)
            nodes[side].append(node)
            causes.append(cause)
            upserted[side].append(node)
            b += 1
            next_bare = bare[b][0] if b < len(bare) else -1
        if added[i]:
            side = run.sides[i]
            rows.append(GraphRow(start + i, GraphOp.ADD_TRIPLE, gids[side], change.head,
                                 change.relation or "", change.tail or ""))
            sides += (side, side)
            nodes[side].extend((run.heads[i], run.tails[i]))
            causes += (cause, cause)
    for side in (0, 1):
        out.touched[side].update(nodes[side])
        out.upserted[side].update(upserted[side])
    out.causes.touch_many(sides, nodes, causes)


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
