"""librdkafka's lines through the structured logger, de-duplicated; broker lost/back once each."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator

import pytest
import structlog
from confluent_kafka import Consumer, KafkaError

from stream_align.service.kafka_client import (
    LIBRDKAFKA_FORMAT,
    BrokerWatch,
    RepeatFilter,
    client_config,
)
from stream_align.service.observability import configure_logging
from stream_align.service.settings import KafkaSettings


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _record(text: str) -> logging.LogRecord:
    return logging.LogRecord("k", logging.ERROR, __file__, 1, LIBRDKAFKA_FORMAT,
                             ("FAIL", "rdkafka#consumer-1", f"[thrd:b/1]: {text}"), None)


def test_repeats_are_held_back_and_counted() -> None:
    now = [0.0]
    repeat = RepeatFilter(interval_s=60.0, clock=lambda: now[0])
    first = _record("b:9092: Connect failed (after 0ms in state CONNECT)")
    assert repeat.filter(first)
    assert first.getMessage().startswith("b:9092: Connect failed") and first.facility == "FAIL"
    for ms in range(1, 40):  # the same failure, other numbers: one kind
        now[0] += 1.0
        assert not repeat.filter(_record(f"b:9092: Connect failed (after {ms}ms in state "
                                         "CONNECT)"))
    assert repeat.filter(_record("b:9092: another failure"))  # another kind passes
    now[0] += 30.0
    later = _record("b:9092: Connect failed (after 3ms in state CONNECT)")
    assert repeat.filter(later) and later.repeated == 39


def test_lost_and_back_are_logged_once_each(out: io.StringIO) -> None:
    now = [100.0]
    watch = BrokerWatch(clock=lambda: now[0])
    watch.reachable()  # nothing was lost: silent
    for _ in range(5):
        watch.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert watch.lost
    now[0] += 25.0
    watch.reachable()
    watch.reachable()
    events = [(line["event"], line.get("down_s")) for line in _lines(out)]
    assert events == [("kafka brokers unreachable", None), ("kafka brokers reachable again", 25.0)]


def test_an_outage_is_a_few_structured_lines_not_hundreds(out: io.StringIO) -> None:
    """A real librdkafka consumer against a port nobody listens on, polled for 4 s: every line
    is JSON from our logger, and the reconnect attempts collapse to one line of their kind."""
    consumer = Consumer(client_config(KafkaSettings(bootstrap_servers="127.0.0.1:1"),
                                      **{"group.id": "outage", "reconnect.backoff.ms": 10,
                                         "reconnect.backoff.max.ms": 50}))
    try:
        consumer.subscribe(["t"])
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            consumer.poll(0.2)
    finally:
        consumer.close()
    lines = _lines(out)  # raises if any line is not JSON
    kafka = [line for line in lines if str(line["logger"]).startswith("stream_align.kafka")]
    assert [line["event"] for line in kafka].count("kafka brokers unreachable") <= 1
    failures = [line for line in kafka if "Connection refused" in str(line["event"])]
    assert 1 <= len(failures) <= 2, failures
    assert failures[0].get("facility") == "FAIL" or failures[0].get("code") == "_TRANSPORT"
