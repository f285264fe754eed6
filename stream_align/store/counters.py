"""Persisted monotonic counters (outbox sequence, FAISS ids) in the ``meta`` table.

A counter lives in the same write batch as the rows that consumed its values, so a crash can
never hand out a number twice: either the rows and the advanced counter are both durable, or
neither is.
"""

from stream_align.store.keys import Table, read_u64, u64
from stream_align.store.pending import PendingWrites

OUTBOX_SEQ = b"counter/outbox_seq"
FAISS_ID = b"counter/faiss_id"
EVENT_SEQ = b"counter/event_seq"
RECOMPUTE_SEQ = b"counter/recompute_seq"
APPLIED_SEQ = b"counter/applied_seq"
APPLIED_FLOOR = b"counter/applied_floor"


def allocate(kv: PendingWrites, name: bytes, count: int = 1) -> int:
    """Return the counter's next value and advance it by ``count``."""
    value = peek(kv, name)
    kv.put(Table.META, name, u64(value + count))
    return value


def peek(kv: PendingWrites, name: bytes) -> int:
    """The counter's next value (0 if never advanced), without advancing it."""
    stored = kv.get(Table.META, name)
    return 0 if stored is None else read_u64(stored)
