"""Publish what a committed transaction put in the outbox, in order, then acknowledge it.

The outbox is written in the same RocksDB batch as the state and offsets, so a record exists
iff the state that produced it exists. Publishing happens after the commit. A crash between the
produce and the acknowledgement leaves records that may already be on their topics; on restart
:func:`published_records` reads the last records of each output partition (as many as the
outbox holds for that topic: this service is the topics' only writer, so anything it published
from the outbox is among them) and :func:`drain_outbox` skips the records found there, so the
event log and the dead letters get each record once. Skipping needs every pending record of a
topic to be unique, which tombstones are not (``key, None``): a topic with a pending tombstone
(the compacted ``kg.alignments`` after a retraction) is re-sent whole, in order — it ends in
the same state per key, as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from stream_align.engine.progress import Progress, counted, no_progress
from stream_align.service.producer import EventProducer
from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_reader import read_to_end
from stream_align.store.recovery import ack_outbox, iter_outbox
from stream_align.store.state_store import StateStore

Published = set[tuple[str, bytes | None, bytes]]  # topic, key, value


def published_records(store: StateStore, kafka: KafkaSettings) -> Published:
    """Outbox records (with a value) that are already on their topic."""
    pending = [entry.record for entry in iter_outbox(store)]
    tombstoned = {record.topic for record in pending if record.value is None}
    found: Published = set()
    for topic, count in Counter(record.topic for record in pending).items():
        if topic not in tombstoned:
            found.update((topic, msg.key(), msg.value())
                         for msg in read_to_end(kafka, topic, tail=count)
                         if msg.value() is not None)
    return found & {(r.topic, r.key, r.value) for r in pending if r.value is not None}


def drain_outbox(store: StateStore, producer: EventProducer,
                 published: Published | None = None, progress: Progress = no_progress,
                 headers: Callable[[str], list[tuple[str, bytes]]] | None = None) -> int:
    """Produce every unacknowledged record (except those already ``published``), wait for
    delivery, acknowledge; return how many were produced. ``progress`` hears every
    10,000 records (a restart may find a whole bulk batch's events here); ``headers(topic)``
    gives the headers (trace context) of a record sent to ``topic``."""
    last_seq = None
    count = 0
    for entry in counted(iter_outbox(store), progress, "publish outbox"):
        record = entry.record
        last_seq = entry.seq
        if published and (record.topic, record.key, record.value) in published:
            continue
        key = record.key.decode("utf-8") if record.key is not None else None
        producer.send_raw(record.topic, record.value, key,
                          headers(record.topic) if headers else None)
        count += 1
    if last_seq is None:
        return 0
    producer.flush()
    ack_outbox(store, last_seq)
    return count
