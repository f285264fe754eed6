"""A batch's outbox records committed in slices, invisible until the batch's own commit.

A bulk refresh emits an event for most entities it decides (102,944 at 200K entities a side,
≈ 0.26 an entity): as outbox entries (≈ 2.2 KB an event) they were staged, copied into
RocksDB's write batch and into its memtable inside the batch's one atomic commit — ≈ 0.23 GB
at 200K a side, ≈ 1.1 GB at 1M extrapolated (decision 0086). Here a batch with more than
``runner.commit_slice_outbox`` entries appends them a slice at a time, each slice its own
transaction, before its own commit. The first slice marks the outbox open from its first
sequence number (``DeliveryStore.open_slices``); the batch's own transaction — its decisions,
event counter, offsets and state, unchanged and still atomic — removes the mark. Until then
the entries are not the outbox's: nothing publishes them, and a restart after a crash between
slices deletes them (``DeliveryStore.discard_open``) and re-runs the batch, as after a crash
before its commit. Nothing about exactly-once changes, and no state has to be rebuilt.

A batch of at most a slice of entries (every steady-tail batch) stages them in its own
transaction as before. Order is kept: dead letters, then each event's records.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice

from stream_align.events.contracts import AlignmentEvent
from stream_align.service.batch import (
    BatchCodec,
    StagedEvents,
    event_entries,
    release,
    stage_events,
)
from stream_align.store.records import OutboxRecord
from stream_align.store.state_store import StateStore
from stream_align.store.transaction import Transaction

Entry = tuple[OutboxRecord, tuple[str, ...]]


def stage_outbox(store: StateStore, tx: Transaction, codec: BatchCodec,
                 letters: list[OutboxRecord], events: Sequence[AlignmentEvent],
                 per_slice: int) -> StagedEvents:
    """Append ``letters`` then ``events``' records to the outbox: into ``tx`` where they are
    at most ``per_slice`` entries, else in slices committed first (see the module) with
    ``tx`` closing them. ``events`` is emptied as ``stage_events`` does."""
    if len(letters) + len(events) <= per_slice:
        for record in letters:
            tx.delivery.append(record)
        return stage_events(tx, codec, events)
    staged = StagedEvents()
    entries = _entries(codec, letters, events, staged)
    opened = False
    while chunk := list(islice(entries, per_slice)):
        with store.transaction() as part:
            if not opened:
                part.delivery.open_slices()
                opened = True
            for record, also in chunk:
                part.delivery.append(record, also)
        del chunk
    tx.delivery.close_slices()
    release(events)
    return staged


def _entries(codec: BatchCodec, letters: list[OutboxRecord],
             events: Sequence[AlignmentEvent], staged: StagedEvents) -> Iterator[Entry]:
    """The outbox entries in order: the dead letters, then ``event_entries``."""
    for record in letters:
        yield record, ()
    yield from event_entries(codec, events, staged)
