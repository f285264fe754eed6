"""The state a ``process`` call changed, as plain data: written to the store at one boundary.

The engine owns its state in memory and never writes the store; each call returns one
:class:`StateDelta` and the caller writes it into the transaction that also carries the
batch's offsets and outbox (``service.engine_state.write_delta``), so state, offsets and
events commit together or not at all. The delta is what the store must hold for a restore
to rebuild the engine (``AlignmentEngine.restore``) — nothing the engine can recompute, but
the ``h1`` rows, which a restore would otherwise compute (decision 0135).

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
- Candidate lists and pair scores (decision 0033) are rows of what changed, naming the other
  graph's entities by FAISS id (the store's id map), so the stored rows always equal the
  committing engine's tables; ``candidates`` says whether they are also *current* (no held
  work), which is when a restore may read them instead of rebuilding them. They are the one
  part not held as data: :class:`RowParts` builds them from the engine's tables a part at a
  time as they are written (decision 0097), so a delta is written before the engine
  processes again.

Partitioning (decision 0027): every row but the counters and the quantiser is keyed by one
entity (a graph row by its head, a label by its left entity, a decision by its left entity and
naming its right one, retractions too), so a delta splits by the entity-key partition of
decision 0014 without reading anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, NamedTuple, TypeVar

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


class NeighbourhoodMatch(NamedTuple):
    """A left entity's match made by the neighbourhood stage (stored apart from the decider's
    so a restore gives it back to that stage) and the score it published."""

    right: str
    score: float



class Retracted(NamedTuple):
    """A left entity's decision withdrawn; it names the right entity it was matched to, so the
    row routes by either side of the pair (decision 0027's partitioning table)."""

    right: str


Key = tuple[str, str]  # (graph id, entity key)


class NeighbourhoodRelations(NamedTuple):
    """The neighbourhood stage's corresponding relations, frozen per model version
    (``neighbourhood_stage``): learnt when round one had ``learnt_at`` anchors and triples."""

    model_version: str
    learnt_at: tuple[int, int]
    pairs: tuple[tuple[str, str], ...]  # (relation of the left graph, of the right graph)


@dataclass
class ListRows:
    """Candidate lists of one graph that changed, columnar (a bulk rebuild changes every list,
    and a Python object per row would be a transient per entity): row ``i`` is entity
    ``keys[i]``'s list of the other graph's entities by FAISS id, best first, ``-1`` past its
    end, and its shared-anchor candidates (``anchors``, decision 0089); a row with no member
    and no anchor candidate deletes the stored row."""

    keys: list[str]
    bounds: np.ndarray  # float64 (n,): no unlisted entity scores above it
    members: np.ndarray  # int64 (n, R): FAISS ids of the other graph
    scores: np.ndarray  # float32 (n, R): retrieval scores (float32 products: exact)
    cells: np.ndarray | None = None  # int32 (n, 1 + nprobe), IVF: own cell, probed cells
    anchors: np.ndarray | None = None  # int64 (n, m): shared-anchor candidates, FAISS ids,
    # -1 past the last, -2 one without an id (the restore recomputes that row)


@dataclass
class PairScoreRows:
    """Scored pairs of the left entities that changed, as CSR: ``keys[i]``'s pairs are
    ``rights[offsets[i]:offsets[i + 1]]`` (FAISS ids of graph B) with their scores; a left
    with no pair deletes its stored row."""

    keys: list[str]
    offsets: np.ndarray  # int64 (n + 1,)
    rights: np.ndarray  # int64 FAISS ids
    scores: np.ndarray  # float32 (published pair scores are float32 results: exact)


@dataclass
class LevelOneRows:
    """One graph's ``h1`` rows (``level1_cache``) put, outdated or dropped in the call, as the
    engine keeps them (decision 0135): row ``i`` is entity ``keys[i]``'s, of
    ``model_version``, ``current[i]`` whether put since the entity was last affected; where
    ``kept[i]`` is False (a deleted entity) the stored row is deleted."""

    model_version: str
    keys: list[str]
    rows: np.ndarray  # float32 (n, hidden_dim)
    current: np.ndarray  # bool (n,)
    kept: np.ndarray  # bool (n,)


R = TypeVar("R", ListRows, PairScoreRows)


@dataclass(frozen=True)
class RowParts(Generic[R]):
    """``count`` changed candidate rows, built a part at a time where they are written.

    A bulk refresh rewrites every list and pair row (400,000 lists of ≈ 1 KB and 3.4M pairs at
    200K entities a side); built whole before the service committed them in slices
    (``service.row_slices``), they were the final refresh's peak (decision 0097). ``build(lo,
    hi)`` reads the engine's tables as they are when called, so a delta's rows must be read
    before the engine's next ``process`` call — the service writes each delta before it
    processes again, as every writer of a delta does."""

    count: int
    build: Callable[[int, int], R]

    def __len__(self) -> int:
        return self.count

    def part(self, lo: int, hi: int) -> R:
        """Rows ``lo`` to ``hi`` (at most ``count``)."""
        return self.build(lo, min(hi, self.count))

    def whole(self) -> R:
        """Every row at once (a delta written in one transaction)."""
        return self.build(0, self.count)


@dataclass
class StateDelta:
    """Every state change of one ``process`` call (see the module docstring)."""

    graph: list[GraphRow] = field(default_factory=list)
    labels: list[LabelRow] = field(default_factory=list)
    embeddings: dict[Key, StoredVector | None] = field(default_factory=dict)
    level1: dict[str, LevelOneRows] = field(default_factory=dict)  # graph id → h1 rows
    queue: dict[Key, int | None] = field(default_factory=dict)  # deferred recompute → seq
    decisions: dict[str, Match | NeighbourhoodMatch | Retracted] = field(
        default_factory=dict)  # by left
    quantiser: tuple[str, np.ndarray] | None = None  # (model version, frozen centroids)
    neighbourhood_relations: NeighbourhoodRelations | None = None  # frozen when learnt
    lists: dict[str, RowParts[ListRows]] = field(default_factory=dict)  # graph id → lists
    pair_scores: RowParts[PairScoreRows] | None = None  # by left entity
    candidates: str | None = None  # stored lists' state (``candidate_state``); None: as is
    candidates_reset: bool = False  # drop every stored list and pair score first
    next_faiss_id: int | None = None
    next_queue_seq: int | None = None
    event_identity: str | None = None  # set once, when the first event ever is numbered
    next_event_seq: int | None = None

    def rows(self) -> int:
        """How many rows the delta writes (a metric; counters and quantiser count one each)."""
        scalars = (self.quantiser, self.neighbourhood_relations, self.next_faiss_id,
                   self.next_queue_seq, self.event_identity, self.next_event_seq)
        pairs = 0 if self.pair_scores is None else len(self.pair_scores)
        return (len(self.graph) + len(self.labels) + len(self.embeddings) + len(self.queue)
                + sum(len(x.keys) for x in self.level1.values())
                + len(self.decisions) + sum(len(x) for x in self.lists.values()) + pairs
                + sum(x is not None for x in (*scalars, self.candidates)))

