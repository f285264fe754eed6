"""Bad records end on the dead-letter topic with their reason; the good ones around them pass."""

import json
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.contracts import DeadLetter, TripleChange
from stream_align.service.intake import TripleIntake
from stream_align.service.producer import EventProducer
from stream_align.service.settings import KafkaSettings
from stream_align.service.topics import ensure_topics
from tests.unit.cli.cli_subprocess import run_cli


def _read_all(settings: KafkaSettings, topic: str, expected: int) -> list[bytes]:
    consumer = Consumer({**settings.client_config(), "group.id": f"reader-{topic}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values: list[bytes] = []
    for _ in range(60):
        for msg in consumer.consume(100, timeout=0.5):
            if msg.error() is None:
                values.append(msg.value())
        if len(values) >= expected:
            break
    consumer.close()
    return values


@pytest.mark.integration
def test_malformed_records_are_dead_lettered_with_reason(kafka_settings: KafkaSettings) -> None:
    kafka_settings = kafka_settings.model_copy(update={"partitions": 1})
    ensure_topics(kafka_settings)
    codec_settings = CodecSettings(max_bytes=4096)
    good = [TripleChange.upsert_entity("A", f"a:{i}", attributes={"name": f"n{i}"})
            for i in range(3)]
    encode = Codec(TripleChange, codec_settings).encode
    bad_json = b'{"event_id": "x", "op": '
    violation = json.dumps({"event_id": "x", "event_time": 1, "graph": "A", "op": "EXPLODE",
                            "head": "h"}).encode()
    unknown_graph = encode(TripleChange.upsert_entity("Z", "z:1"))
    oversized = encode(good[0])[:-1] + b" " * 5000 + b"}"
    records = [encode(good[0]), b"\xff\xfe\x00garbage", encode(good[1]), bad_json, violation,
               unknown_graph, oversized, encode(good[2])]
    producer = EventProducer(kafka_settings, codec_settings)
    for value in records:
        producer.send_raw(kafka_settings.triples_topic, value, key="k")
    producer.flush()

    handled: list[TripleChange] = []
    intake = TripleIntake(kafka_settings, codec_settings)
    try:
        summary = intake.run(handled.append, until_idle=3.0)
    finally:
        intake.close()

    assert [e.head for e in handled] == ["a:0", "a:1", "a:2"]
    assert summary.dead_letters == {"invalid_utf8": 1, "invalid_json": 1, "unknown_symbol": 1,
                                    "unknown_graph": 1, "oversized": 1}
    letters = [Codec(DeadLetter, codec_settings).decode(v)
               for v in _read_all(kafka_settings, kafka_settings.dead_letter_topic, 5)]
    by_offset = {letter.offset: letter for letter in letters}
    assert sorted(by_offset) == [1, 3, 4, 5, 6]
    assert by_offset[1].original == records[1]
    assert by_offset[5].error_class == "unknown_graph"
    assert by_offset[6].original == oversized[:2048]
    assert "5" in by_offset[6].error_message
    assert all(letter.topic == kafka_settings.triples_topic for letter in letters)


@pytest.mark.integration
def test_consume_logs_each_dead_letter_without_its_payload(
        kafka_settings: KafkaSettings, kafka_config_file: Path) -> None:
    """`stream-align consume`: stdout is the JSON summary alone; stderr has one log line per
    dead letter with reason and position — never the record's bytes."""
    ensure_topics(kafka_settings)
    producer = EventProducer(kafka_settings, CodecSettings())
    producer.send_raw(kafka_settings.triples_topic, b'{"payload-secret-4711": ', key="k")
    producer.send_raw(kafka_settings.triples_topic, b"\xff\xfe payload-secret-4712", key="k")
    producer.flush()
    result = run_cli("consume", "--until-idle", "3", "--config", str(kafka_config_file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["dead_letters"] == {"invalid_json": 1, "invalid_utf8": 1}
    logged = [line for line in result.stderr.splitlines() if "dead letter" in line]
    assert len(logged) == 2
    assert all(kafka_settings.triples_topic in line and "offset=" in line for line in logged)
    assert "payload-secret" not in result.stderr
