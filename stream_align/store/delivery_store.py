"""Consumer offsets and the outbox: the two halves of exactly-once delivery.

Offsets are committed in the same batch as the state they produced, so a restart resumes exactly
after the last applied event. Output records go to the outbox in that same batch; a publisher
produces them after the commit and then acknowledges them. A crash between produce and ack
re-produces them, which the idempotent producer and the compacted topic absorb.
"""

from collections.abc import Iterator, Sequence

from stream_align.store.counters import OUTBOX_SEQ, allocate
from stream_align.store.errors import InvalidValueError
from stream_align.store.keys import Table, pack, read_u32, read_u64, u32, u64, unpack_one
from stream_align.store.pending import PendingWrites
from stream_align.store.records import OutboxEntry, OutboxRecord, TopicPartition
from stream_align.store.values import decode_outbox, encode_outbox


class DeliveryStore:
    """Offset and outbox reads and writes inside one transaction."""

    def __init__(self, kv: PendingWrites) -> None:
        self._kv = kv

    def set_offset(self, topic: str, partition: int, next_offset: int) -> None:
        """Record the next offset to consume from ``topic``/``partition``."""
        if partition < 0 or next_offset < 0:
            raise InvalidValueError(f"negative partition or offset: {partition}, {next_offset}")
        self._kv.put(Table.OFFSET, pack(topic) + u32(partition), u64(next_offset))

    def offset(self, topic: str, partition: int) -> int | None:
        """The next offset to consume, or None if nothing was committed for the partition."""
        value = self._kv.get(Table.OFFSET, pack(topic) + u32(partition))
        return None if value is None else read_u64(value)

    def offsets(self) -> Iterator[tuple[TopicPartition, int]]:
        """Every stored ``(partition, next offset)``."""
        for key, value in self._kv.scan(Table.OFFSET):
            topic, end = unpack_one(key)
            yield TopicPartition(topic, read_u32(key, end)), read_u64(value)

    def append(self, record: OutboxRecord, also: Sequence[str] = ()) -> int:
        """Queue a record for publishing after the commit, and the same record (key, value,
        headers) to each topic of ``also`` after it, stored once; return its sequence number."""
        seq = allocate(self._kv, OUTBOX_SEQ)
        self._kv.put(Table.OUTBOX, u64(seq), encode_outbox(record, also))
        return seq

    def outbox(self) -> Iterator[OutboxEntry]:
        """Unacknowledged records in the order they were appended (the records of one entry
        share its sequence number)."""
        for key, value in self._kv.scan(Table.OUTBOX):
            seq = read_u64(key)
            for record in decode_outbox(value):
                yield OutboxEntry(seq, record)

    def ack(self, up_to_seq: int) -> int:
        """Delete every outbox entry with ``seq <= up_to_seq``; return how many were deleted."""
        acked = []
        for key, _ in self._kv.scan(Table.OUTBOX):
            if read_u64(key) > up_to_seq:
                break
            acked.append(key)
        for key in acked:
            self._kv.delete(Table.OUTBOX, key)
        return len(acked)
