"""Persisted monotonic counters (outbox sequence, FAISS ids) in the ``meta`` table.

A counter lives in the same write batch as the rows that consumed its values, so a crash can
never hand out a number twice: either the rows and the advanced counter are both durable, or
neither is.
"""

from stream_align.store.keys import Table, read_u64, u64
from stream_align.store.pending import PendingWrites

OUTBOX_SEQ = b"counter/outbox_seq"
FAISS_ID = b"counter/faiss_id"


def allocate(kv: PendingWrites, name: bytes) -> int:
    """Return the counter's next value and advance it by one."""
    stored = kv.get(Table.META, name)
    value = 0 if stored is None else read_u64(stored)
    kv.put(Table.META, name, u64(value + 1))
    return value
