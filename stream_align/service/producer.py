"""An idempotent producer of typed events: encode, send, and fail loudly on lost deliveries.

A thin wrapper over confluent-kafka's ``Producer`` with ``enable.idempotence`` (no duplicates or
reordering on retries within a session). Delivery failures are collected by the delivery
callback and raised as ``DeliveryError`` on ``flush``: a record the broker refused is never
silently dropped.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.contracts import Event
from stream_align.service.errors import DeliveryError
from stream_align.service.kafka_client import BROKERS, client_config
from stream_align.service.settings import KafkaSettings


class EventProducer:
    """Encodes events with one codec per contract and topic; produces them idempotently."""

    def __init__(self, kafka: KafkaSettings, codec: CodecSettings, **overrides: Any) -> None:
        config = client_config(kafka, "producer", **{"enable.idempotence": True, "acks": "all",
                                                     "linger.ms": 20, "compression.type": "lz4"},
                               **overrides)
        self._producer = Producer(config)
        self._codec_settings = codec
        self._codecs: dict[tuple[type[Event], str], Codec[Any]] = {}
        self._failures: list[str] = []
        self.delivered = 0

    def _codec(self, contract: type[Event], topic: str) -> Codec[Any]:
        """One codec per contract and topic (the registry subject may depend on the topic)."""
        if (contract, topic) not in self._codecs:
            self._codecs[contract, topic] = Codec(contract, self._codec_settings, topic=topic)
        return self._codecs[contract, topic]

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._failures.append(f"{msg.topic()}: {err.str()}")
        else:
            self.delivered += 1
            BROKERS.reachable()

    def send(self, topic: str, event: Event, key: str | None) -> None:
        """Queue one event; blocks briefly (serving callbacks) while the local queue is full."""
        self.send_raw(topic, self._codec(type(event), topic).encode(event), key)

    def send_raw(self, topic: str, value: bytes | None, key: str | None,
                 headers: list[tuple[str, bytes]] | None = None) -> None:
        """Queue already-encoded bytes (``None`` is a tombstone on a compacted topic) with
        ``headers`` (the trace context)."""
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers,
                                       on_delivery=self._on_delivery)
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def serve_callbacks(self) -> None:
        """Deliver queued delivery reports, log lines and errors now. librdkafka holds them
        until the producer is polled: an idle producer would report an outage only at its
        next flush, late and with the wrong time."""
        self._producer.poll(0)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait for every queued record; raise ``DeliveryError`` if any was not delivered."""
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryError(f"{remaining} records still undelivered after {timeout}s")
        if self._failures:
            failures, self._failures = self._failures, []
            raise DeliveryError(f"{len(failures)} records failed, first: {failures[0]}")
