"""Where alignment event ids come from: the store's identity and a sequence, committed together.

An ``AlignmentEvent.event_id`` must name exactly one event, forever, and survive re-publication.
The engine derives it from ``(identity, seq)`` (``engine.events.EventIds``, restored from here):
``seq`` is a counter in ``meta`` advanced in the same write batch as the outbox records carrying
the events, so

- a committed event keeps its id: the outbox stores the encoded record, id included, and a
  restart re-publishes those bytes;
- no two committed events share an id: each commit advances the counter past every number it
  used, and a crash before the commit loses the numbers together with the events (nothing was
  published from an uncommitted batch);
- a new state directory (state wiped, a second deployment) starts a new ``identity`` (uuid4,
  stored on first use), so its counter restarting at 0 cannot repeat an earlier id.
"""

from stream_align.store.counters import EVENT_SEQ, peek
from stream_align.store.keys import Table, u64
from stream_align.store.pending import PendingWrites

IDENTITY = b"store/identity"


class EventSequence:
    """Event-id numbers inside one transaction."""

    def __init__(self, kv: PendingWrites) -> None:
        self._kv = kv

    def identity(self) -> str | None:
        """This state's identity (None until the first event is numbered)."""
        stored = self._kv.get(Table.META, IDENTITY)
        return None if stored is None else stored.decode()

    def set_identity(self, identity: str) -> None:
        """Record the identity (once, with the first numbered events)."""
        self._kv.put(Table.META, IDENTITY, identity.encode())

    def next_seq(self) -> int:
        """The number the next event gets."""
        return peek(self._kv, EVENT_SEQ)

    def set_next_seq(self, value: int) -> None:
        """Advance the counter past every number the batch's events used."""
        self._kv.put(Table.META, EVENT_SEQ, u64(value))
