"""State store: both graphs, embeddings, id maps, decisions, offsets and outbox in one RocksDB.

Every write of a processing step goes through one ``Transaction`` and lands in one atomic batch,
which is what makes processing exactly-once across crashes (see docs/decisions/0003).
"""

from stream_align.lazy import lazy_exports

_EXPORTS = {
    "CorruptValueError": "stream_align.store.errors",
    "Decision": "stream_align.store.records",
    "Degree": "stream_align.store.records",
    "Edge": "stream_align.store.records",
    "Entity": "stream_align.store.records",
    "InvalidValueError": "stream_align.store.errors",
    "OutboxEntry": "stream_align.store.records",
    "OutboxRecord": "stream_align.store.records",
    "StateStore": "stream_align.store.state_store",
    "StoreClosedError": "stream_align.store.errors",
    "StoreError": "stream_align.store.errors",
    "StoreSettings": "stream_align.store.settings",
    "StoredEmbedding": "stream_align.store.records",
    "TopicPartition": "stream_align.store.records",
    "Transaction": "stream_align.store.transaction",
    "TransactionStateError": "stream_align.store.errors",
    "Triple": "stream_align.store.records",
    "TxState": "stream_align.store.transaction",
    "UnknownGraphError": "stream_align.store.errors",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
