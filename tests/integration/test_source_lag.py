"""The source's consumer lag comes from the broker's watermarks, on the real broker."""

from __future__ import annotations

import time

import pytest

from stream_align.events.codec import CodecSettings
from stream_align.service.producer import EventProducer
from stream_align.service.settings import KafkaSettings
from stream_align.service.source import StoreResumedSource
from stream_align.service.topics import ensure_topics

pytestmark = pytest.mark.integration


def test_lag_counts_what_is_published_but_not_yet_consumed(kafka_settings: KafkaSettings) -> None:
    ensure_topics(kafka_settings)
    producer = EventProducer(kafka_settings, CodecSettings())
    for i in range(30):
        producer.send_raw(kafka_settings.triples_topic, b"{}", f"key-{i}")
    producer.flush()
    source = StoreResumedSource(kafka_settings, [kafka_settings.triples_topic], lambda tp: None)
    try:
        consumed, deadline = 0, time.monotonic() + 60
        while not consumed and time.monotonic() < deadline:
            consumed = len(source.poll(5, 1.0))  # joins the group, then reads at most 5
        assert consumed
        assert sum(source.lag().values()) == 30 - consumed
        for i in range(7):  # published after the consumer's last fetch: only the broker knows
            producer.send_raw(kafka_settings.triples_topic, b"{}", f"late-{i}")
        producer.flush()
        assert sum(source.lag().values()) == 37 - consumed
    finally:
        source.close()
