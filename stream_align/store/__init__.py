"""State store: both graphs, embeddings, id maps, decisions, offsets and outbox in one RocksDB.

Every write of a processing step goes through one ``Transaction`` and lands in one atomic batch,
which is what makes processing exactly-once across crashes (see docs/decisions/0003).
"""

from stream_align.store.errors import (
    CorruptValueError,
    InvalidValueError,
    StoreClosedError,
    StoreError,
    TransactionStateError,
    UnknownGraphError,
)
from stream_align.store.records import (
    Decision,
    Degree,
    Edge,
    Entity,
    OutboxEntry,
    OutboxRecord,
    StoredEmbedding,
    TopicPartition,
    Triple,
)
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore
from stream_align.store.transaction import Transaction, TxState

__all__ = [
    "CorruptValueError",
    "Decision",
    "Degree",
    "Edge",
    "Entity",
    "InvalidValueError",
    "OutboxEntry",
    "OutboxRecord",
    "StateStore",
    "StoreClosedError",
    "StoreError",
    "StoreSettings",
    "StoredEmbedding",
    "TopicPartition",
    "Transaction",
    "TransactionStateError",
    "Triple",
    "TxState",
    "UnknownGraphError",
]
