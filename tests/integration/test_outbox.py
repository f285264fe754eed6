"""Outbox recovery on the real broker: what a crash left published is not published again."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_align.events.codec import CodecSettings
from stream_align.service.batch import stage_outputs
from stream_align.service.outbox import drain_outbox, published_records
from stream_align.service.producer import EventProducer
from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_reader import latest_by_key, read_to_end
from stream_align.service.topics import ensure_topics
from stream_align.store.records import OutboxRecord
from stream_align.store.recovery import iter_outbox
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore


def _crash_after_publishing(kafka: KafkaSettings, path: Path, records: list[OutboxRecord],
                            published: int) -> tuple[StateStore, EventProducer]:
    """Stage ``records`` in a committed outbox, publish the first ``published`` of them and
    stop before the acknowledgement, as a crash would."""
    ensure_topics(kafka)
    producer = EventProducer(kafka, CodecSettings())
    store = StateStore(StoreSettings(path=path))
    with store.transaction() as tx:
        stage_outputs(tx, records, {})
    for entry in list(iter_outbox(store))[:published]:
        record = entry.record
        producer.send_raw(record.topic, record.value, record.key.decode() if record.key else None)
    producer.flush()
    return store, producer


@pytest.mark.integration
def test_restart_skips_what_a_crash_left_published(kafka_settings: KafkaSettings,
                                                   tmp_path: Path) -> None:
    events, letters = kafka_settings.alignment_events_topic, kafka_settings.dead_letter_topic
    records = [OutboxRecord(events, f"a:{i % 3}".encode(), f"event {i}".encode())
               for i in range(8)] + [OutboxRecord(letters, b"dlq", b"letter 0")]
    store, producer = _crash_after_publishing(kafka_settings, tmp_path / "db", records, 5)

    published = published_records(store, kafka_settings)
    assert published == {(r.topic, r.key, r.value) for r in records[:5]}
    assert drain_outbox(store, producer, published) == 4
    assert not list(iter_outbox(store))
    log = [(m.key(), m.value()) for m in read_to_end(kafka_settings, events)]
    assert sorted(log) == sorted((r.key, r.value) for r in records[:8])  # each exactly once
    for key in {r.key for r in records[:8]}:  # and in the order they were staged, per key
        assert [v for k, v in log if k == key] == [r.value for r in records[:8] if r.key == key]
    store.close()


@pytest.mark.integration
def test_a_topic_with_a_pending_tombstone_is_resent_whole(kafka_settings: KafkaSettings,
                                                          tmp_path: Path) -> None:
    current = kafka_settings.alignments_topic
    records = [OutboxRecord(current, b"a:1", b"match"), OutboxRecord(current, b"a:1", None),
               OutboxRecord(current, b"a:2", b"match 2")]
    store, producer = _crash_after_publishing(kafka_settings, tmp_path / "db", records, 3)

    published = published_records(store, kafka_settings)
    assert published == set()  # a tombstone cannot be told apart from an older one
    assert drain_outbox(store, producer, published) == 3
    assert latest_by_key(kafka_settings, current) == {b"a:2": b"match 2"}
    store.close()


@pytest.mark.integration
def test_a_record_stored_for_two_topics_reaches_each_once(kafka_settings: KafkaSettings,
                                                          tmp_path: Path) -> None:
    events, current = kafka_settings.alignment_events_topic, kafka_settings.alignments_topic
    ensure_topics(kafka_settings)
    producer = EventProducer(kafka_settings, CodecSettings())
    store = StateStore(StoreSettings(path=tmp_path / "db"))
    with store.transaction() as tx:  # an event's log and current-state records, stored once
        for i in range(3):
            tx.delivery.append(OutboxRecord(events, f"a:{i}".encode(), f"match {i}".encode()),
                               (current,))
    pending = list(iter_outbox(store))
    assert [(entry.seq, entry.record.topic) for entry in pending] == [
        (seq, topic) for seq in range(3) for topic in (events, current)]
    for entry in pending[:3]:  # a crash after the first entry and half of the second
        record = entry.record
        producer.send_raw(record.topic, record.value, record.key.decode())
    producer.flush()

    published = published_records(store, kafka_settings)
    assert drain_outbox(store, producer, published) == 3
    assert not list(iter_outbox(store))
    for topic in (events, current):
        assert sorted((m.key(), m.value()) for m in read_to_end(kafka_settings, topic)) == [
            (f"a:{i}".encode(), f"match {i}".encode()) for i in range(3)]
    store.close()
