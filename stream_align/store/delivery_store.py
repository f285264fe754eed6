"""Consumer offsets and the outbox: the two halves of exactly-once delivery.

Offsets are committed in the same batch as the state they produced, so a restart resumes exactly
after the last applied event. Output records go to the outbox in that same batch; a publisher
produces them after the commit and then acknowledges them. A crash between produce and ack
re-produces them, which the idempotent producer and the compacted topic absorb.

A batch with many output records (a bulk refresh's events) may append them in slices, each its
own transaction, before its own commit (``service.outbox_slices``): the first slice marks the
outbox *open from* its first sequence number and the batch's own commit removes the mark.
Entries at or after an open mark are not the outbox's yet — ``outbox`` does not read them and
``discard_open`` (on restart) deletes them — so a crash between slices leaves what a crash
before the commit did.
"""

from collections.abc import Iterator, Sequence

from stream_align.store.counters import OUTBOX_SEQ, allocate, peek
from stream_align.store.errors import InvalidValueError
from stream_align.store.keys import Table, pack, read_u32, read_u64, u32, u64, unpack_one
from stream_align.store.pending import PendingWrites
from stream_align.store.records import OutboxEntry, OutboxRecord, TopicPartition
from stream_align.store.values import decode_outbox, encode_outbox

OUTBOX_OPEN = b"outbox/open_from"
"""``meta`` key: the first sequence number of outbox entries whose batch has not committed."""


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

    def open_slices(self) -> None:
        """Mark what is appended from now on as not the outbox's until ``close_slices`` commits
        (kept if already marked: the mark is the batch's first entry)."""
        if self._open_from() is None:
            self._kv.put(Table.META, OUTBOX_OPEN, u64(peek(self._kv, OUTBOX_SEQ)))

    def close_slices(self) -> None:
        """The entries appended since ``open_slices`` become the outbox's (with this commit)."""
        self._kv.delete(Table.META, OUTBOX_OPEN)

    def discard_open(self) -> int:
        """Delete the entries of a batch that did not commit (a crash between its slices) and
        give their sequence numbers back; return how many were deleted."""
        start = self._open_from()
        if start is None:
            return 0
        stale = [key for key in self._kv.scan_keys(Table.OUTBOX) if read_u64(key) >= start]
        for key in stale:
            self._kv.delete(Table.OUTBOX, key)
        self._kv.put(Table.META, OUTBOX_SEQ, u64(start))
        self._kv.delete(Table.META, OUTBOX_OPEN)
        return len(stale)

    def _open_from(self) -> int | None:
        value = self._kv.get(Table.META, OUTBOX_OPEN)
        return None if value is None else read_u64(value)

    def outbox(self) -> Iterator[OutboxEntry]:
        """Unacknowledged records in the order they were appended (the records of one entry
        share its sequence number); not those of a batch still open (``open_slices``)."""
        end = self._open_from()
        for key, value in self._kv.scan(Table.OUTBOX):
            seq = read_u64(key)
            if end is not None and seq >= end:
                return
            for record in decode_outbox(value):
                yield OutboxEntry(seq, record)

    def ack(self, up_to_seq: int) -> int:
        """Delete every outbox entry with ``seq <= up_to_seq`` (not those of a batch still
        open); return how many were deleted."""
        if (end := self._open_from()) is not None:
            up_to_seq = min(up_to_seq, end - 1)
        acked = []
        for key in self._kv.scan_keys(Table.OUTBOX):
            if read_u64(key) > up_to_seq:
                break
            acked.append(key)
        for key in acked:
            self._kv.delete(Table.OUTBOX, key)
        return len(acked)
