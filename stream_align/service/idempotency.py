"""Input ``event_id`` as an idempotency key: an exact re-send is a no-op, a reused id is a
dead letter.

Before the engine sees a batch, every TripleChange and Label is compared with the ids the
store remembers (``store.applied_ids``, the last ``runner.input_id_window`` ids, kept per
input topic kind):

- a new id is remembered (with a digest of its content) and applied;
- the same id with the same content (an exact re-send, a producer retry) is dropped: no
  effect, no output, counted in ``stream_align_duplicate_inputs``;
- the same id with other content is dead-lettered as ``conflicting_event_id``: applying it
  would make a consumer that trusts ids (and the service after the window) disagree with one
  that does not.

The first record with an id decides, whatever happens to it next (applied, or rejected by the
engine as e.g. ``missing_triple``) — a re-send never updates it, not even its time. Content is
compared on the decoded event (its canonical JSON without ``event_time``), so the same change
re-stamped, or re-sent in the other encoding, is still a duplicate. Older ids than the
window are forgotten: a re-send after more than ``input_id_window`` newer inputs is applied
again (harmless for upserts and ADDs of an existing triple, which change nothing).

The check runs inside the batch's transaction, so remembered ids commit atomically with the
state they produced: after a crash the re-read batch finds exactly the committed ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

from confluent_kafka import Message

from stream_align.events.contracts import Event
from stream_align.service.batch import BatchCodec, DeadLetterRecord, DecodedBatch
from stream_align.service.errors import RejectedEventError
from stream_align.store.applied_ids import DIGEST_BYTES, Seen
from stream_align.store.transaction import Transaction

E = TypeVar("E", bound=Event)
CONFLICT = "conflicting_event_id"


def content_digest(event: Event) -> bytes:
    """A digest of what the event says: every field but ``event_time`` (a producer that
    re-stamps a retry, or a second ``stream-align replay``, re-sends the same change)."""
    text = event.model_dump_json(exclude={"event_time"})
    return hashlib.blake2b(text.encode(), digest_size=DIGEST_BYTES).digest()


def _admit(tx: Transaction, kind: str, events: Sequence[E], messages: Sequence[Message],
           codec: BatchCodec) -> tuple[list[E], list[Message], list[DeadLetterRecord], int]:
    kept, kept_messages, letters, duplicates = [], [], [], 0
    verdicts = tx.applied.see(kind, [(e.event_id, content_digest(e)) for e in events])
    for event, msg, seen in zip(events, messages, verdicts, strict=True):
        if seen is Seen.NEW:
            kept.append(event)
            kept_messages.append(msg)
        elif seen is Seen.DUPLICATE:
            duplicates += 1
        else:
            letters.append(codec.dead_letter(msg, RejectedEventError(
                CONFLICT, f"event_id {event.event_id!r} was applied before with other content")))
    return kept, kept_messages, letters, duplicates


def admit(tx: Transaction, batch: DecodedBatch, codec: BatchCodec, window: int) -> None:
    """Drop the batch's re-sent records (counted in ``batch.duplicates``) and move its
    conflicting reuses to its dead letters, in place (``window`` 0: nothing to do).

    In place, so a retry of the batch (the runner re-applies it without an input the store
    refused, in a new transaction) admits what is left again: every kept id is new again in
    the new transaction, and what was dropped or dead-lettered stays so."""
    if window == 0:
        return
    batch.changes, batch.change_messages, letters, duplicates = _admit(
        tx, "triple", batch.changes, batch.change_messages, codec)
    batch.duplicates[codec.kafka.triples_topic] += duplicates
    batch.labels, batch.label_messages, label_letters, duplicates = _admit(
        tx, "label", batch.labels, batch.label_messages, codec)
    batch.duplicates[codec.kafka.labels_topic] += duplicates
    batch.dead_letters += letters + label_letters
    tx.applied.forget_beyond(window)
