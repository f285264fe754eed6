"""The typed records the store reads and writes; plain immutable values, no storage logic."""

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt


class Triple(NamedTuple):
    """One edge ``head --relation--> tail`` of one graph."""

    graph: str
    head: str
    relation: str
    tail: str


class Edge(NamedTuple):
    """An edge seen from one entity: the relation and the entity at the other end."""

    relation: str
    other: str


class Degree(NamedTuple):
    """Triples in which an entity is the head (``out``) and the tail (``in_``)."""

    out: int
    in_: int

    @property
    def total(self) -> int:
        """All incident triples; the number hub bounds are stated in."""
        return self.out + self.in_


class TopicPartition(NamedTuple):
    """A Kafka partition whose consumer offset the store keeps."""

    topic: str
    partition: int


@dataclass(frozen=True)
class Entity:
    """An entity of one graph with its type and string attributes (``name`` among them)."""

    graph: str
    id: str
    type: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredEmbedding:
    """A float32 vector (read-only view) and the model version that computed it."""

    model_version: str
    vector: npt.NDArray[np.float32]


@dataclass(frozen=True)
class Decision:
    """The current alignment decision for a left-graph entity."""

    left: str
    right: str
    score: float
    decision: str


@dataclass(frozen=True)
class OutboxRecord:
    """A Kafka record waiting to be published; ``value=None`` is a tombstone."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


@dataclass(frozen=True)
class OutboxEntry:
    """An outbox record with its position; acknowledging ``seq`` deletes it and all before it."""

    seq: int
    record: OutboxRecord
