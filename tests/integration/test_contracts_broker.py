"""Every contract survives a produce/consume round trip through the real broker, in both
encodings (Avro without a registry: the schema ids are the contracts' fixed ones)."""

from __future__ import annotations

import pytest

from stream_align.events.codec import Codec, CodecSettings, Encoding
from stream_align.events.contracts import (
    AlignmentEvent,
    DeadLetter,
    Decision,
    Direction,
    Event,
    Evidence,
    Label,
    TripleChange,
)
from stream_align.service.producer import EventProducer
from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_reader import read_to_end
from stream_align.service.topics import ensure_topics

pytestmark = pytest.mark.integration

EVENTS: list[Event] = [
    TripleChange.upsert_entity("A", "e/1", entity_type="city",
                               attributes={"name": "北京", "population": "21.5M"}),
    TripleChange.add_triple("A", "e/1", "capitalOf", "e/2"),
    TripleChange.remove_triple("B", "x", "r", "y"),
    TripleChange.delete_entity("B", "x"),
    Label.new(left="e/1", right="Beijing", label="MATCH", source="reviewer"),
    AlignmentEvent.new(id_from=("e/1", "Beijing"), left="e/1", right="Beijing",
                       decision=Decision.MATCH, score=0.93, model_version="v1",
                       evidence=(Evidence(left_neighbour="e/2", right_neighbour="China",
                                          relation_left="capitalOf", relation_right="capital",
                                          weight=0.4, direction_left=Direction.OUTGOING,
                                          direction_right=Direction.INCOMING),), cause=("c1",)),
    DeadLetter.new(original=b"\xff{", error_class="invalid_utf8", error_message="bad byte",
                   topic="kg.triples", partition=1, offset=9),
]


@pytest.mark.parametrize("encoding", [Encoding.JSON, Encoding.AVRO])
def test_every_contract_round_trips_through_the_broker(kafka_settings: KafkaSettings,
                                                      encoding: Encoding) -> None:
    settings = CodecSettings(encoding=encoding)
    ensure_topics(kafka_settings)
    topic = kafka_settings.alignment_events_topic
    producer = EventProducer(kafka_settings, settings)
    for event in EVENTS:
        producer.send(topic, event, key="one-partition")  # one key: read back in order
    producer.flush()
    got = [msg.value() for msg in read_to_end(kafka_settings, topic)]
    decoded = [Codec(type(event), settings).decode(value)
               for event, value in zip(EVENTS, got, strict=True)]
    assert decoded == EVENTS
