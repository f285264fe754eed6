"""Read ``kg.triples``: decode each record, hand good events on, dead-letter the rest.

Errors are data: a record that cannot be decoded, or names a graph this deployment does not
have, becomes a DeadLetter on the dead-letter topic with its reason, and the records around it
are processed as usual. Offsets are committed only after the batch's handler calls returned and
its dead letters were delivered, so a crash re-reads rather than loses (at least once; the
service's store makes the effect exactly once).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, Message

from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.contracts import TripleChange
from stream_align.events.errors import DecodeError
from stream_align.service.dead_letters import dead_letter_for, log_dead_letter
from stream_align.service.errors import KafkaUnavailableError, RejectedEventError
from stream_align.service.kafka_client import client_config
from stream_align.service.producer import EventProducer
from stream_align.service.settings import KafkaSettings

Handler = Callable[[TripleChange], None]


@dataclass
class IntakeSummary:
    """What one intake run saw."""

    consumed: int = 0
    by_op: Counter[str] = field(default_factory=Counter)
    by_graph: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"consumed": self.consumed, "by_op": dict(self.by_op),
                "by_graph": dict(self.by_graph), "dead_letters": dict(self.dead_letters)}


class TripleIntake:
    """A consumer-group member on the triples topic with dead-letter routing."""

    def __init__(self, kafka: KafkaSettings, codec: CodecSettings,
                 graphs: tuple[str, ...] = ("A", "B"), batch_size: int = 500) -> None:
        self._kafka = kafka
        self._codec = Codec(TripleChange, codec)
        self._graphs = frozenset(graphs)
        self._batch_size = batch_size
        self._keep_bytes = codec.max_bytes // 2
        self._dlq = EventProducer(kafka, codec)
        self._consumer = Consumer(client_config(kafka, "consumer", **{
            "group.id": kafka.consumer_group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "isolation.level": "read_committed"}))
        self._assigned = False
        self._consumer.subscribe([kafka.triples_topic], on_assign=self._on_assign)

    def _on_assign(self, consumer: Consumer, partitions: list) -> None:
        self._assigned = True

    def _decode(self, msg: Message) -> TripleChange:
        event = self._codec.decode(msg.value())
        if event.graph not in self._graphs:
            allowed = ", ".join(sorted(self._graphs))
            raise RejectedEventError("unknown_graph", f"graph {event.graph!r} not in {allowed}")
        return event

    def _process(self, msg: Message, handle: Handler, summary: IntakeSummary) -> None:
        summary.consumed += 1
        try:
            event = self._decode(msg)
        except (DecodeError, RejectedEventError) as exc:
            if isinstance(exc, DecodeError) and not exc.is_bad_input:
                raise KafkaUnavailableError(f"decode failed (not bad input): {exc}") from exc
            letter = dead_letter_for(msg, exc, self._keep_bytes)
            log_dead_letter(letter)
            self._dlq.send(self._kafka.dead_letter_topic, letter, key=letter.event_id)
            summary.dead_letters[letter.error_class] += 1
            return
        handle(event)
        summary.by_op[event.op.value] += 1
        summary.by_graph[event.graph] += 1

    def run(self, handle: Handler, until_idle: float = 5.0, max_records: int | None = None,
            join_timeout: float = 60.0) -> IntakeSummary:
        """Consume until nothing arrived for ``until_idle`` seconds (or ``max_records``).

        The idle clock starts once the group has assigned partitions: joining a group on a
        fresh broker takes seconds, and that wait is not "no more records".
        """
        summary = IntakeSummary()
        joining_since = idle_since = time.monotonic()
        while time.monotonic() - idle_since < until_idle:
            if max_records is not None and summary.consumed >= max_records:
                break
            messages = self._consumer.consume(self._batch_size, timeout=0.5)
            if not self._assigned:
                if time.monotonic() - joining_since > join_timeout:
                    raise KafkaUnavailableError(f"no partitions assigned in {join_timeout}s")
                idle_since = time.monotonic()
            if not messages:
                continue
            idle_since = time.monotonic()
            for msg in messages:
                if msg.error() is not None:
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaUnavailableError(f"consume failed: {msg.error().str()}")
                self._process(msg, handle, summary)
            self._dlq.flush()
            try:
                self._consumer.commit(asynchronous=False)
            except KafkaException as exc:
                raise KafkaUnavailableError(f"offset commit failed: {exc}") from exc
        return summary

    def close(self) -> None:
        self._consumer.close()
