"""A poll takes the backlog up to its limit, and at a steady trickle only what has arrived."""

from __future__ import annotations

import time

import pytest

import stream_align.service.source as source_module
from stream_align.events.codec import CodecSettings
from stream_align.service.producer import EventProducer
from stream_align.service.settings import KafkaSettings
from stream_align.service.source import StoreResumedSource
from stream_align.service.topics import ensure_topics

pytestmark = pytest.mark.integration


def test_poll_fills_a_batch_from_the_backlog(kafka_settings: KafkaSettings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_module, "POLL_CHUNK", 4)  # many reads per batch
    ensure_topics(kafka_settings)
    producer = EventProducer(kafka_settings, CodecSettings())
    for i in range(50):
        producer.send_raw(kafka_settings.triples_topic, b"{}", f"key-{i}")
    producer.flush()
    source = StoreResumedSource(kafka_settings, [kafka_settings.triples_topic], lambda tp: None)
    try:
        first, deadline = [], time.monotonic() + 60
        while not first and time.monotonic() < deadline:
            first = source.poll(1, 2.0)  # joins the group and starts fetching
        batch = source.poll(30, 2.0)  # reads of 4 while they come back full
        assert len(batch) == 30
        rest = source.poll(1000, 2.0)  # the backlog is shorter than the limit: all of it
        assert len(first) + len(batch) + len(rest) == 50
        assert source.poll(1000, 0.2) == []
    finally:
        source.close()
