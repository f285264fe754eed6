"""The store-resumed source on the real broker: lag from the watermarks, batches from polls."""

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


def _publish(settings: KafkaSettings, count: int, prefix: str) -> EventProducer:
    """``count`` records on the triples topic (the source never decodes them)."""
    producer = EventProducer(settings, CodecSettings())
    for i in range(count):
        producer.send_raw(settings.triples_topic, b"{}", f"{prefix}-{i}")
    producer.flush()
    return producer


def _joined(source: StoreResumedSource, max_records: int, timeout: float) -> list:
    """The first non-empty poll (the first ones only join the group)."""
    got, deadline = [], time.monotonic() + 60
    while not got and time.monotonic() < deadline:
        got = source.poll(max_records, timeout)
    return got


def _fetched(source: StoreResumedSource, behind: int) -> None:
    """Wait until the fetches came back: the cached watermarks show ``behind`` records."""
    deadline = time.monotonic() + 30
    while source._behind() < behind and time.monotonic() < deadline:
        time.sleep(0.05)
    assert source._behind() == behind


def _lag(source: StoreResumedSource) -> dict:
    """Ask for the lag and wait for the answer (the service never waits: it asks again later)."""
    source.request_lag()
    deadline = time.monotonic() + 30
    while (lag := source.lag()) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lag is not None
    return lag


def test_lag_counts_what_is_published_but_not_yet_consumed(kafka_settings: KafkaSettings) -> None:
    ensure_topics(kafka_settings)
    _publish(kafka_settings, 30, "key")
    source = StoreResumedSource(kafka_settings, [kafka_settings.triples_topic], lambda tp: None)
    try:
        consumed = len(_joined(source, 5, 1.0))  # reads at most 5
        assert consumed
        assert sum(_lag(source).values()) == 30 - consumed
        # published after the consumer's last fetch: only the broker knows
        _publish(kafka_settings, 7, "late")
        assert sum(_lag(source).values()) == 37 - consumed
    finally:
        source.close()


def test_poll_fills_a_batch_from_the_backlog(kafka_settings: KafkaSettings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_module, "POLL_CHUNK", 4)  # many reads per batch
    # records known to be there are waited for until the fetch lands: a loaded machine's slow
    # fetch cannot end the batch early (CI once read 23 of 30)
    monkeypatch.setattr(source_module, "BACKLOG_WAIT_S", 30.0)
    ensure_topics(kafka_settings)
    _publish(kafka_settings, 50, "key")
    source = StoreResumedSource(kafka_settings, [kafka_settings.triples_topic], lambda tp: None)
    try:
        first = _joined(source, 1, 2.0)  # joins the group and starts fetching
        _fetched(source, 50 - len(first))
        batch = source.poll(30, 2.0)  # reads of 4 while they come back full
        assert len(batch) == 30
        rest = source.poll(1000, 2.0)  # the backlog is shorter than the limit: all of it
        assert len(first) + len(batch) + len(rest) == 50
        assert source.poll(1000, 0.2) == []
    finally:
        source.close()


def test_poll_reads_on_while_the_broker_holds_a_backlog(kafka_settings: KafkaSettings,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A read that finds the prefetched queue dry keeps reading while the cached watermarks say
    a chunk or more is still waiting (a backlog outruns the prefetch) — or, once the batch is
    backlog-sized, anything at all — and stops once caught up."""
    monkeypatch.setattr(source_module, "POLL_CHUNK", 4)
    monkeypatch.setattr(source_module, "BACKLOG_RECORDS", 8)  # then a tail under a chunk too
    # a read of records known to be there returns when the fetch lands: a long wait costs
    # nothing, and a loaded machine's slow fetch then cannot end the batch early
    monkeypatch.setattr(source_module, "BACKLOG_WAIT_S", 30.0)
    ensure_topics(kafka_settings)
    _publish(kafka_settings, 40, "key")
    source = StoreResumedSource(kafka_settings, [kafka_settings.triples_topic], lambda tp: None)
    try:
        first = _joined(source, 1, 2.0)
        _fetched(source, 40 - len(first))
        monkeypatch.setattr(source_module, "FILL_WAIT_S", 0.0)  # a dry queue ends a plain fill
        batch = source.poll(1000, 2.0)
        assert len(first) + len(batch) == 40
        assert source._behind() == 0
    finally:
        source.close()
