"""The one boundary between the engine's state and the store, in both directions.

The engine imports no store class (decision 0027): it restores from a read-only
``StateSource`` and returns every change of a batch as one ``StateDelta``. This module is the
only code that translates between the two — :class:`StoredState` reads a transaction as the
engine's source, :func:`write_delta` writes a delta into the batch's transaction (with the
batch's offsets and outbox, so all of it commits in one atomic RocksDB write or none of it does).

A row the store refuses (``InvalidValueError``: a key it cannot encode) is raised as the
engine's ``InputFailedError`` naming the input that produced the row, so the service
dead-letters that input and rebuilds the engine from the store (``service.runner``). A delta
whose counters would move back (an engine that was not restored from this store) is refused
with ``EngineStateError`` before anything is written: it would reuse FAISS ids and event ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from stream_align.engine.delta import (
    GraphOp,
    GraphRow,
    NeighbourhoodMatch,
    Retracted,
    StateDelta,
)
from stream_align.engine.engine import AlignmentEngine, Outcome
from stream_align.engine.errors import InputFailedError
from stream_align.events.contracts import Label, TripleChange
from stream_align.service.errors import EngineStateError
from stream_align.store.candidate_store import ListBlock, PairBlock
from stream_align.store.embedding_store import EmbeddingRows
from stream_align.store.errors import InvalidValueError
from stream_align.store.graph_rows import GraphRows
from stream_align.store.level_one_store import LevelOneRowsRead
from stream_align.store.records import Decision
from stream_align.store.transaction import Transaction

NEIGHBOURHOOD = "NEIGHBOURHOOD"
"""The decision row kind of a neighbourhood match: restored to its stage, not the decider."""


class StoredState:
    """The engine's ``StateSource`` over one store transaction (reads only)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def graph(self, graph_id: str) -> GraphRows:
        return self._tx.graph.read_all(graph_id)

    def entities(self, graph_id: str) -> Iterator[tuple[str, str, Mapping[str, str]]]:
        """Every entity, a row at a time (tools and tests; a restore reads ``graph``)."""
        return ((e.id, e.type, e.attributes) for e in self._tx.graph.entities(graph_id))

    def triples(self, graph_id: str) -> Iterator[tuple[str, str, str]]:
        """Every triple, a row at a time (tools and tests)."""
        return ((t.head, t.relation, t.tail) for t in self._tx.graph.triples(graph_id))

    def labels(self) -> Iterator[tuple[str, str, str, int]]:
        return ((x.left, x.right, x.label, x.event_time) for x in self._tx.labels.all())

    def decisions(self) -> Iterator[tuple[str, str, float]]:
        return ((d.left, d.right, d.score) for d in self._tx.decisions.all()
                if d.decision != NEIGHBOURHOOD)

    def neighbourhood_matches(self) -> Iterator[tuple[str, str, float]]:
        return ((d.left, d.right, d.score) for d in self._tx.decisions.all()
                if d.decision == NEIGHBOURHOOD)

    def neighbourhood_relations(self, model_version: str
                                ) -> tuple[tuple[int, int], list[tuple[str, str]]] | None:
        return self._tx.decisions.neighbourhood_relations(model_version)

    def queued(self) -> Iterator[tuple[int, str, str]]:
        return self._tx.recompute.all()

    def next_queue_seq(self) -> int:
        return self._tx.recompute.next_seq()

    def embeddings(self, graph_id: str, model_version: str) -> EmbeddingRows:
        return self._tx.embeddings.read_all(graph_id, model_version)

    def level1_rows(self, graph_id: str, model_version: str) -> LevelOneRowsRead:
        return self._tx.level1.read_all(graph_id, model_version)

    def quantiser(self, model_version: str) -> np.ndarray | None:
        return self._tx.embeddings.quantiser(model_version)

    def candidates_state(self) -> str | None:
        return self._tx.candidates.state()

    def candidate_lists(self, graph_id: str, anchors: bool = True) -> ListBlock:
        return self._tx.candidates.list_block(graph_id, anchors)

    def pair_scores(self) -> PairBlock:
        return self._tx.candidates.pair_block()

    def next_faiss_id(self) -> int:
        return self._tx.embeddings.next_faiss_id()

    def event_identity(self) -> str | None:
        return self._tx.event_seq.identity()

    def next_event_seq(self) -> int:
        return self._tx.event_seq.next_seq()


def _write_graph(tx: Transaction, row: GraphRow) -> None:
    gid, head = row.graph_id, row.head
    if row.op is GraphOp.UPSERT_ENTITY:
        tx.graph.upsert_entity(gid, head, row.entity_type, dict(row.attributes))
    elif row.op is GraphOp.DELETE_ENTITY:
        tx.graph.delete_entity(gid, head)
    elif row.op is GraphOp.ADD_TRIPLE:
        tx.graph.add_triple(gid, head, row.relation, row.tail)
    else:
        tx.graph.remove_triple(gid, head, row.relation, row.tail)


def _write_inputs(tx: Transaction, delta: StateDelta) -> None:
    """Graph and label rows, each refusal naming its input (degree counters summed per
    entity: ``GraphStore.summed_degrees``)."""
    with tx.graph.summed_degrees():
        for segment in _segments(delta.graph):
            _write_segment(tx, segment)
    for label in delta.labels:
        try:
            tx.labels.put(label.left, label.right, label.value, label.source, label.event_time)
        except InvalidValueError as exc:
            raise InputFailedError("label", label.position) from exc


def _segments(rows: Sequence[GraphRow]) -> Iterator[list[GraphRow]]:
    """The graph rows in input order, each row that removes (a triple, an entity with its
    triples) a segment of its own: within the others, added triples and upserted entities
    touch no row another one of them reads, whatever the graph, so they can be written in
    any order."""
    run: list[GraphRow] = []
    for row in rows:
        if row.op is GraphOp.REMOVE_TRIPLE or row.op is GraphOp.DELETE_ENTITY:
            if run:
                yield run
            yield [row]
            run = []
        else:
            run.append(row)
    if run:
        yield run


def _write_segment(tx: Transaction, rows: list[GraphRow]) -> None:
    """One segment: its entity rows in order, then each graph's added triples at once (a
    shuffled bulk load interleaves the graphs and the upserts, so runs of adjacent adds were
    mostly one triple long and went row by row, decision 0059)."""
    added: dict[str, list[GraphRow]] = {}
    for row in rows:
        if row.op is GraphOp.ADD_TRIPLE:
            added.setdefault(row.graph_id, []).append(row)
        else:
            _write_row(tx, row)
    for gid, group in added.items():
        if len(group) > 1:
            try:
                tx.graph.add_triples(gid, [(r.head, r.relation, r.tail) for r in group])
                continue
            except InvalidValueError:
                pass  # nothing written: row by row names the refused input
        for row in group:
            _write_row(tx, row)


def _write_row(tx: Transaction, row: GraphRow) -> None:
    try:
        _write_graph(tx, row)
    except InvalidValueError as exc:
        raise InputFailedError("change", row.position) from exc


def _check_continues(tx: Transaction, delta: StateDelta) -> None:
    """The delta's counters continue the stored ones (never back, one identity)."""
    for name, new, stored in (
            ("FAISS id", delta.next_faiss_id, tx.embeddings.next_faiss_id),
            ("event number", delta.next_event_seq, tx.event_seq.next_seq),
            ("queue number", delta.next_queue_seq, tx.recompute.next_seq)):
        if new is not None and new < (old := stored()):
            raise EngineStateError(f"the next {name} would go back from {old} to {new}: the "
                                   "engine was not restored from this store")
    if delta.event_identity is not None and tx.event_seq.identity() is not None:
        raise EngineStateError("the engine numbers events under a new identity, but the store "
                               "has one: the engine was not restored from this store")


def write_delta(tx: Transaction, delta: StateDelta) -> None:
    """Write everything one ``process`` call changed into ``tx`` (nothing is committed here)."""
    _check_continues(tx, delta)
    _write_inputs(tx, delta)
    for (gid, key), stored in delta.embeddings.items():
        if stored is None:
            tx.embeddings.delete(gid, key)
            tx.embeddings.release_faiss_id(gid, key)
        else:
            tx.embeddings.put(gid, key, stored.vector, stored.model_version)
            tx.embeddings.bind_faiss_id(gid, key, stored.faiss_id)
    for gid, rows in delta.level1.items():
        tx.level1.put_rows(gid, rows.model_version, rows.keys, rows.rows, rows.current,
                           rows.kept)
    for (gid, key), seq in delta.queue.items():
        if seq is None:
            tx.recompute.pop(gid, key)
        else:
            tx.recompute.push(gid, key, seq)
    for left, match in delta.decisions.items():
        if isinstance(match, Retracted):
            tx.decisions.delete(left)
        else:
            kind = NEIGHBOURHOOD if isinstance(match, NeighbourhoodMatch) else "MATCH"
            tx.decisions.put(Decision(left, match.right, match.score, kind))
    _write_candidates(tx, delta)
    _write_counters(tx, delta)


def _write_candidates(tx: Transaction, delta: StateDelta) -> None:
    """Changed candidate lists and pair rows (an empty row deletes), and their state."""
    if delta.candidates_reset:
        tx.candidates.clear()
    for gid, parts in delta.lists.items():
        rows = parts.whole()
        tx.candidates.put_lists(gid, rows.keys, rows.bounds, rows.members, rows.scores,
                                rows.cells, rows.anchors)
    if delta.pair_scores is not None:
        pairs = delta.pair_scores.whole()
        tx.candidates.put_pair_rows(pairs.keys, pairs.offsets, pairs.rights, pairs.scores)
    if delta.candidates is not None:
        tx.candidates.set_state(delta.candidates)


def _write_counters(tx: Transaction, delta: StateDelta) -> None:
    if delta.quantiser is not None:
        tx.embeddings.put_quantiser(*delta.quantiser)
    if (relations := delta.neighbourhood_relations) is not None:
        tx.decisions.put_neighbourhood_relations(relations.model_version, relations.learnt_at,
                                                 list(relations.pairs))
    if delta.next_faiss_id is not None:
        tx.embeddings.set_next_faiss_id(delta.next_faiss_id)
    if delta.next_queue_seq is not None:
        tx.recompute.set_next_seq(delta.next_queue_seq)
    if delta.event_identity is not None:
        tx.event_seq.set_identity(delta.event_identity)
    if delta.next_event_seq is not None:
        tx.event_seq.set_next_seq(delta.next_event_seq)


def process_into(tx: Transaction, engine: AlignmentEngine, changes: Sequence[TripleChange],
                 labels: Sequence[Label]) -> Outcome:
    """One batch through the engine, its delta written into ``tx`` (batch runs, tools)."""
    outcome = engine.process(changes, labels)
    write_delta(tx, outcome.delta)
    return outcome
