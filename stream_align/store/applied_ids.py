"""Input event ids already applied, within a bounded window: what makes ``event_id`` an
idempotency key.

Each remembered id keeps a digest of its event's content and the sequence number it was
remembered under; a second table orders ids by that number, so the oldest are forgotten first
once more than ``window`` are remembered. Both tables and their counter are written in the
transaction of the batch that applied the event, so after a crash either the event's effect
*and* its id are durable or neither is: a re-read batch sees exactly the ids the committed
state has applied.

Cost: two rows per id (≈ 110 bytes before compression: kind, id, 16-byte digest, two u64),
one multi-get per batch and kind and, once the window is full, one more to forget the oldest
for each id remembered. Nothing is kept in memory.
"""

from collections.abc import Sequence
from enum import Enum

from stream_align.store.counters import APPLIED_FLOOR, APPLIED_SEQ, allocate, peek
from stream_align.store.keys import Table, component, fresh_component, u64
from stream_align.store.pending import PendingWrites

DIGEST_BYTES = 16


class Seen(Enum):
    """What an id's record is, compared with what is remembered."""

    NEW = "new"  # not remembered: apply it (now remembered)
    DUPLICATE = "duplicate"  # remembered with the same content: an exact re-send
    CONFLICT = "conflict"  # remembered with other content: a reused id


class AppliedIds:
    """Remembered input ids inside one transaction."""

    def __init__(self, kv: PendingWrites) -> None:
        self._kv = kv

    def see(self, kind: str, ids: Sequence[tuple[str, bytes]]) -> list[Seen]:
        """Compare each ``(event_id, digest)`` of one input kind, in order, with the remembered
        ids (an earlier one of the same call included); remember the new ones."""
        prefix = component(kind)
        keys = [prefix + fresh_component(event_id) for event_id, _ in ids]  # pack(kind, id)
        fresh: dict[bytes, bytes] = {}
        out = []
        for key, (_, digest), stored in zip(keys, ids, self._kv.get_many(Table.APPLIED, keys),
                                            strict=True):
            known = fresh.get(key, stored)
            if known is None:
                fresh[key] = digest
                out.append(Seen.NEW)
            else:
                out.append(Seen.DUPLICATE if known[:DIGEST_BYTES] == digest else Seen.CONFLICT)
        seq = allocate(self._kv, APPLIED_SEQ, len(fresh)) if fresh else 0
        numbers = [u64(n) for n in range(seq, seq + len(fresh))]
        values = [digest + number for digest, number in zip(fresh.values(), numbers,
                                                            strict=True)]
        self._kv.put_pairs(Table.APPLIED, zip(fresh, values, strict=True))
        self._kv.put_pairs(Table.APPLIED_BY_SEQ, zip(numbers, fresh, strict=True))
        return out

    def forget_beyond(self, window: int) -> int:
        """Forget the oldest ids until at most ``window`` remain; return how many went.

        The oldest remembered number is a counter too, so forgetting reads the rows it deletes
        by key and never scans the tombstones of earlier deletions (a queue's usual trap)."""
        floor, end = peek(self._kv, APPLIED_FLOOR), peek(self._kv, APPLIED_SEQ) - window
        for seq in range(floor, end):
            key = self._kv.get(Table.APPLIED_BY_SEQ, u64(seq))
            self._kv.delete(Table.APPLIED_BY_SEQ, u64(seq))
            if key is not None:
                self._kv.delete(Table.APPLIED, key)
        if end > floor:
            self._kv.put(Table.META, APPLIED_FLOOR, u64(end))
        return max(end - floor, 0)
