"""Where alignment event ids come from: the store's identity and a sequence, committed together.

An ``AlignmentEvent.event_id`` must name exactly one event, forever, and survive re-publication.
The engine derives it from ``(identity, seq)``: ``seq`` is a counter in ``meta`` advanced in the
same write batch as the outbox records carrying the events, so

- a committed event keeps its id: the outbox stores the encoded record, id included, and a
  restart re-publishes those bytes;
- no two committed events share an id: each commit advances the counter past every number it
  used, and a crash before the commit loses the numbers together with the events (nothing was
  published from an uncommitted batch);
- a new state directory (state wiped, a second deployment) starts a new ``identity`` (uuid4,
  stored on first use), so its counter restarting at 0 cannot repeat an earlier id.
"""

import uuid

from stream_align.store.counters import EVENT_SEQ, allocate
from stream_align.store.keys import Table
from stream_align.store.pending import PendingWrites

IDENTITY = b"store/identity"


class EventSequence:
    """Event-id numbers inside one transaction."""

    def __init__(self, kv: PendingWrites) -> None:
        self._kv = kv

    def identity(self) -> str:
        """This state's identity (created, in this transaction, on first use)."""
        stored = self._kv.get(Table.META, IDENTITY)
        if stored is None:
            stored = uuid.uuid4().hex.encode()
            self._kv.put(Table.META, IDENTITY, stored)
        return stored.decode()

    def allocate(self, count: int) -> int:
        """Reserve ``count`` consecutive numbers; return the first."""
        return allocate(self._kv, EVENT_SEQ, count)
