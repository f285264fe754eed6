"""The state a ``process`` call changed, as plain data: written to the store at one boundary.

The engine owns its state in memory and never writes the store; each call returns one
:class:`StateDelta` and the caller writes it into the transaction that also carries the
batch's offsets and outbox (``service.engine_state.write_delta``), so state, offsets and
events commit together or not at all. The delta is what the store must hold for a restore
to rebuild the engine (``AlignmentEngine.restore``) — nothing the engine can recompute.

Invariants the writer relies on:

- ``graph`` is ordered as the inputs were applied (an entity deleted and upserted again in
  one batch ends upserted); every other part is *net*: one final value per row, ``None``
  meaning "delete the row". So a delta's size is bounded by the rows it changed, not by the
  number of times the engine touched them.
- Rows are keyed by graph id and entity key (the store's vocabulary); node ints never leave
  the engine: they are private to one process (``mutable_graph``).
- Every graph and label row carries the position of the input that produced it, so a row
  the store refuses names its input (``InputFailedError``) and the service dead-letters it.
- Counters (FAISS ids, queue sequence, event sequence) are the engine's next values, written
  with the rows that used the earlier ones: a crash before the commit loses both together.

Partitioning (decision 0027): every row but the counters and the quantiser is keyed by one
entity (a graph row by its head, a label by its left entity, a decision by its left entity and
naming its right one, retractions too), so a delta splits by the entity-key partition of
decision 0014 without reading anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

import numpy as np


class GraphOp(Enum):
    """What a graph row change does (the store keeps adjacency and degrees consistent)."""

    UPSERT_ENTITY = "upsert_entity"
    DELETE_ENTITY = "delete_entity"  # with every triple it takes part in
    ADD_TRIPLE = "add_triple"
    REMOVE_TRIPLE = "remove_triple"


class GraphRow(NamedTuple):
    """One applied graph change: ``head`` is the entity for entity ops."""

    position: int  # of the change in the batch
    op: GraphOp
    graph_id: str
    head: str
    relation: str = ""
    tail: str = ""
    entity_type: str = ""
    attributes: tuple[tuple[str, str], ...] = ()


class LabelRow(NamedTuple):
    """One stored label (a later row of the same pair replaces the earlier one)."""

    position: int  # of the label in the batch
    left: str
    right: str
    value: str
    source: str
    event_time: int


class StoredVector(NamedTuple):
    """An entity's embedding, its FAISS id and the model version that computed it."""

    faiss_id: int
    vector: np.ndarray
    model_version: str


class Match(NamedTuple):
    """A left entity's current decision and the score its last MATCH event published."""

    right: str
    score: float


class Retracted(NamedTuple):
    """A left entity's decision withdrawn; it names the right entity it was matched to, so the
    row routes by either side of the pair (decision 0027's partitioning table)."""

    right: str


Key = tuple[str, str]  # (graph id, entity key)


@dataclass
class StateDelta:
    """Every state change of one ``process`` call (see the module docstring)."""

    graph: list[GraphRow] = field(default_factory=list)
    labels: list[LabelRow] = field(default_factory=list)
    embeddings: dict[Key, StoredVector | None] = field(default_factory=dict)
    queue: dict[Key, int | None] = field(default_factory=dict)  # deferred recompute → seq
    decisions: dict[str, Match | Retracted] = field(default_factory=dict)  # by left
    quantiser: tuple[str, np.ndarray] | None = None  # (model version, frozen centroids)
    next_faiss_id: int | None = None
    next_queue_seq: int | None = None
    event_identity: str | None = None  # set once, when the first event ever is numbered
    next_event_seq: int | None = None

    def rows(self) -> int:
        """How many rows the delta writes (a metric; counters and quantiser count one each)."""
        scalars = (self.quantiser, self.next_faiss_id, self.next_queue_seq,
                   self.event_identity, self.next_event_seq)
        return (len(self.graph) + len(self.labels) + len(self.embeddings) + len(self.queue)
                + len(self.decisions) + sum(x is not None for x in scalars))

