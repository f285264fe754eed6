"""Read a topic from the beginning to its current end: the compacted alignment state, tests.

Uses ``assign`` (no consumer group, no committed offsets) and the high watermarks taken at the
start, so it terminates even while producers keep writing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message
from confluent_kafka import TopicPartition as KafkaPartition

from stream_align.service.errors import KafkaUnavailableError
from stream_align.service.kafka_client import client_config
from stream_align.service.settings import KafkaSettings


def read_to_end(kafka: KafkaSettings, topic: str, timeout: float = 60.0,
                tail: int | None = None) -> Iterator[Message]:
    """Every record of ``topic`` up to the high watermark seen on entry, partition by partition
    (with ``tail``: only the last ``tail`` records of each partition)."""
    consumer = Consumer(client_config(kafka, "consumer", **{
        "group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False,
        "isolation.level": "read_committed"}))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics[topic]
        if metadata.error is not None:
            raise KafkaUnavailableError(f"topic {topic}: {metadata.error.str()}")
        ends, starts = {}, {}
        for p in metadata.partitions:
            low, high = consumer.get_watermark_offsets(KafkaPartition(topic, p), timeout=timeout)
            start = low if tail is None else max(low, high - tail)
            if high > start:
                ends[p] = high
                starts[p] = OFFSET_BEGINNING if tail is None else start
        consumer.assign([KafkaPartition(topic, p, starts[p]) for p in ends])
        while ends:
            msg = consumer.poll(timeout)
            if msg is None:
                raise KafkaUnavailableError(f"no record from {topic} within {timeout}s")
            if msg.error() is not None:
                raise KafkaUnavailableError(f"reading {topic}: {msg.error().str()}")
            yield msg
            if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                ends.pop(msg.partition(), None)
    finally:
        consumer.close()


def latest_by_key(kafka: KafkaSettings, topic: str) -> dict[bytes, bytes]:
    """The current value per key of a compacted topic (a tombstone removes the key)."""
    state: dict[bytes, bytes] = {}
    for msg in read_to_end(kafka, topic):
        if msg.value() is None:
            state.pop(msg.key(), None)
        else:
            state[msg.key()] = msg.value()
    return state
