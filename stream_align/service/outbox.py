"""Publish what a committed transaction put in the outbox, in order, then acknowledge it.

The outbox is written in the same RocksDB batch as the state and offsets, so a record exists
iff the state that produced it exists. Publishing happens after the commit; a crash between the
produce and the acknowledgement re-produces the same records (same keys, same event ids) on
restart, which the idempotent producer, the compacted topic and event-id deduplication absorb.
"""

from __future__ import annotations

from stream_align.service.producer import EventProducer
from stream_align.store.recovery import ack_outbox, iter_outbox
from stream_align.store.state_store import StateStore


def drain_outbox(store: StateStore, producer: EventProducer) -> int:
    """Produce every unacknowledged record, wait for delivery, acknowledge; return how many."""
    last_seq = None
    count = 0
    for entry in iter_outbox(store):
        record = entry.record
        key = record.key.decode("utf-8") if record.key is not None else None
        producer.send_raw(record.topic, record.value, key)
        last_seq = entry.seq
        count += 1
    if last_seq is None:
        return 0
    producer.flush()
    ack_outbox(store, last_seq)
    return count
