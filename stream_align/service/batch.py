"""One micro-batch: consumed records → decoded inputs → (engine) → outbox records and offsets.

Everything a batch writes goes into the transaction the caller commits: the engine's state
changes, dead letters and alignment events (as outbox records) and the next offset of every
partition the batch read. Decode failures are dead letters, never exceptions; each input
topic's dead letters go to its own dead-letter topic (kg.triples.dlq, kg.labels.dlq).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message

from stream_align.engine.event_rows import EventRows
from stream_align.events.codec import Codec, CodecSettings, Encoding
from stream_align.events.contracts import (
    AlignmentEvent,
    DeadLetter,
    Decision,
    Label,
    TripleChange,
)
from stream_align.events.errors import DecodeError
from stream_align.service.dead_letters import dead_letter_for
from stream_align.service.errors import KafkaUnavailableError
from stream_align.service.settings import KafkaSettings
from stream_align.store.records import OutboxRecord, TopicPartition
from stream_align.store.transaction import Transaction


@dataclass(frozen=True)
class DeadLetterRecord:
    """A dead letter ready for the outbox, and the letter itself (for metrics and the log)."""

    letter: DeadLetter
    record: OutboxRecord

    @property
    def reason(self) -> str:
        """The one-word reason (``invalid_json``, ``unknown_graph`` ...)."""
        return self.letter.error_class


@dataclass
class DecodedBatch:
    """The usable records of a batch, their source messages, and the next offsets."""

    changes: list[TripleChange] = field(default_factory=list)
    change_messages: list[Message] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    label_messages: list[Message] = field(default_factory=list)
    dead_letters: list[DeadLetterRecord] = field(default_factory=list)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    duplicates: Counter[str] = field(default_factory=Counter)  # re-sends dropped, by topic

    def release(self) -> None:
        """Let go of the records (decoded, their messages, the dead letters); the offsets and
        counts stay."""
        for records in (self.changes, self.change_messages, self.labels, self.label_messages,
                        self.dead_letters):
            records.clear()

    def take(self, kind: str, position: int) -> Message:
        """Remove input ``position`` of the ``kind`` ("change" or "label") list; its message
        (to dead-letter it: its offset stays in ``next_offsets``)."""
        events, messages = ((self.changes, self.change_messages) if kind == "change"
                            else (self.labels, self.label_messages))
        del events[position]
        return messages.pop(position)


class BatchCodec:
    """Decodes input records and encodes output records for one deployment's topics."""

    def __init__(self, kafka: KafkaSettings, codec: CodecSettings) -> None:
        self.kafka = kafka
        self._changes = Codec(TripleChange, codec)
        self._labels = Codec(Label, codec)
        # one codec per output topic: a topic-based subject strategy gives each its own id
        self._events = Codec(AlignmentEvent, codec, topic=kafka.alignment_events_topic)
        self._current = Codec(AlignmentEvent, codec, topic=kafka.alignments_topic)
        self._same_bytes = codec.encoding is Encoding.JSON  # JSON names no schema id
        self._letters = {topic: Codec(DeadLetter, codec, topic=topic)
                         for topic in (kafka.dead_letter_topic, kafka.labels_dead_letter_topic)}
        self._keep_bytes = codec.max_bytes // 2

    def prepare(self) -> None:
        """Resolve the output schema ids now: a schema missing from the registry (with
        auto-registration off) stops start-up with the subject to register."""
        for codec in (self._events, self._current, *self._letters.values()):
            codec.prepare()

    def dead_letter(self, msg: Message, error: object) -> DeadLetterRecord:
        """The outbox record of ``msg``'s dead letter, on its input topic's dead-letter topic."""
        letter = dead_letter_for(msg, error, self._keep_bytes)
        topic = (self.kafka.labels_dead_letter_topic if msg.topic() == self.kafka.labels_topic
                 else self.kafka.dead_letter_topic)
        return DeadLetterRecord(letter, OutboxRecord(
            topic, letter.event_id.encode(), self._letters[topic].encode(letter)))

    def decode(self, messages: list[Message], into: DecodedBatch | None = None) -> DecodedBatch:
        """``messages`` decoded, added to ``into`` (a batch decoded a read at a time) or to a
        new batch. Each partition's next offset is found over the read, then merged into the
        batch's (a ``TopicPartition`` and a ``max`` a record were a tenth of a backlog's
        decode, decision 0105)."""
        batch = DecodedBatch() if into is None else into
        labels_topic, ends = self.kafka.labels_topic, dict[tuple[str, int], int]()
        for msg in messages:
            topic, end = msg.topic(), msg.offset() + 1
            if end > ends.get(at := (topic, msg.partition()), 0):
                ends[at] = end
            try:
                if topic == labels_topic:
                    batch.labels.append(self._labels.decode(msg.value()))
                    batch.label_messages.append(msg)
                else:
                    batch.changes.append(self._changes.decode(msg.value()))
                    batch.change_messages.append(msg)
            except DecodeError as exc:
                if not exc.is_bad_input:
                    raise KafkaUnavailableError(f"decode failed (not bad input): {exc}") from exc
                batch.dead_letters.append(self.dead_letter(msg, exc))
        for (topic, partition), end in ends.items():
            tp = TopicPartition(topic, partition)
            batch.next_offsets[tp] = max(batch.next_offsets.get(tp, 0), end)
        return batch

    def alignment_records(self, event: AlignmentEvent) -> list[OutboxRecord]:
        """The event-log record, and the compacted current-state record (tombstone on RETRACT)."""
        return self._records(event.left, event.decision, self._events.encode(event),
                             lambda: self._current.encode(event))

    def record_records(self, record: dict[str, Any]) -> list[OutboxRecord]:
        """``alignment_records`` of the event whose record form (``EventRows.records``) is
        ``record``: the same records, encoded without building the event."""
        return self._records(record["left"], record["decision"],
                             self._events.encode_record(record),
                             lambda: self._current.encode_record(record))

    def _records(self, left: str, decision: Decision, value: bytes,
                 current: Callable[[], bytes]) -> list[OutboxRecord]:
        key = left.encode()
        return [OutboxRecord(self.kafka.alignment_events_topic, key, value),
                OutboxRecord(self.kafka.alignments_topic, key, None if decision == Decision.RETRACT
                             else value if self._same_bytes else current())]


def stage_outputs(tx: Transaction, records: list[OutboxRecord],
                  next_offsets: dict[TopicPartition, int]) -> None:
    """Append the batch's output records and its offsets to the transaction."""
    for record in records:
        tx.delivery.append(record)
    for tp, offset in next_offsets.items():
        tx.delivery.set_offset(tp.topic, tp.partition, offset)


def shared_records(records: list[OutboxRecord]) -> list[tuple[OutboxRecord, tuple[str, ...]]]:
    """``records`` in order, each run of records that differ only by topic as one record and
    the topics after its own (``DeliveryStore.append``'s ``also``): a MATCH's log record and
    current-state record are the same bytes (JSON), which the outbox then holds once."""
    out: list[tuple[OutboxRecord, tuple[str, ...]]] = []
    for record in records:
        if out and (first := out[-1][0]).key == record.key and first.value is not None \
                and first.value == record.value and first.headers == record.headers:
            out[-1] = (first, (*out[-1][1], record.topic))
        else:
            out.append((record, ()))
    return out


@dataclass
class StagedEvents:
    """What the service still needs of a batch's alignment events once they are outbox
    records: each event's time (freshness) and how many of each decision (metrics)."""

    times: list[int] = field(default_factory=list)
    decisions: Counter[str] = field(default_factory=Counter)
    records: int = 0


def event_entries(codec: BatchCodec, events: Sequence[AlignmentEvent], staged: StagedEvents
                  ) -> Iterator[tuple[OutboxRecord, tuple[str, ...]]]:
    """Each event's outbox entries in order, the event built as it is read and counted in
    ``staged`` (its time, its decision, its records) before its entries are yielded. The
    engine's ``EventRows`` are encoded from their record form, never built as models."""
    if isinstance(events, EventRows):
        for form in events.records():
            yield from _counted(staged, form["event_time"], form["decision"],
                                codec.record_records(form))
        return
    for event in events:
        yield from _counted(staged, event.event_time, event.decision,
                            codec.alignment_records(event))


def _counted(staged: StagedEvents, event_time: int, decision: Decision,
             records: list[OutboxRecord]) -> Iterator[tuple[OutboxRecord, tuple[str, ...]]]:
    staged.times.append(event_time)
    staged.decisions[decision.value] += 1
    for record, also in shared_records(records):
        staged.records += 1 + len(also)
        yield record, also


def release(events: Sequence[AlignmentEvent]) -> None:
    """Empty staged ``events`` (a list or the engine's ``EventRows``): each is freed once its
    records are staged."""
    if isinstance(events, list | EventRows):
        events.clear()


def stage_events(tx: Transaction, codec: BatchCodec, events: Sequence[AlignmentEvent]
                 ) -> StagedEvents:
    """Append each event's outbox records to the transaction, in order, then empty ``events``
    (``clear``). The engine's events are rows (``EventRows``): each event's record form is
    built as it is read here and freed once staged, never an ``AlignmentEvent`` — ≈ 8 KB of
    small Python objects (its evidence and up to 32 cause ids) against ≈ 2 KB encoded; a
    bulk refresh's tens of thousands of them, held as objects until the commit next to their
    records, the write batch and the memtable, were the largest part of the commit's peak
    (decisions 0081, 0086), and building, validating and dumping them more than half of
    what staging a bulk refresh's events cost (decision 0099)."""
    staged = StagedEvents()
    for record, also in event_entries(codec, events, staged):
        tx.delivery.append(record, also)
    release(events)
    return staged
