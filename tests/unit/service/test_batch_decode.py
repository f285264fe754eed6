"""A polled batch decoded a read at a time: good records in order, each bad one a dead letter
of its own that leaves the records around it alone, each partition's next offset."""

from __future__ import annotations

from types import SimpleNamespace

from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.contracts import Label, LabelValue, TripleChange
from stream_align.service.batch import BatchCodec, DecodedBatch
from stream_align.service.settings import KafkaSettings
from stream_align.store.records import TopicPartition

KAFKA = KafkaSettings()


def _message(topic: str, partition: int, offset: int, value: bytes) -> SimpleNamespace:
    """What the codec reads of a consumed message: its topic, partition, offset and value."""
    return SimpleNamespace(topic=lambda: topic, partition=lambda: partition,
                           offset=lambda: offset, value=lambda: value)


def _messages() -> list[SimpleNamespace]:
    changes, labels = Codec(TripleChange), Codec(Label)
    out, offsets = [], {0: 10, 1: 0, 2: 5}
    for i in range(30):
        partition = i % 3
        change = TripleChange.add_triple("A", f"h{i}", "r", f"t{i}", id_from=("t", i),
                                         event_time=i)
        value = changes.encode(change)
        if i % 7 == 3:
            value = value[:-1]  # invalid JSON
        elif i % 11 == 5:
            value = value.replace(b'"ADD_TRIPLE"', b'"RENAME"')  # unknown symbol
        out.append(_message(KAFKA.triples_topic, partition, offsets[partition], value))
        offsets[partition] += 1
    label = Label.new(left="a", right="b", label=LabelValue.MATCH, source="seed", event_time=1)
    out.append(_message(KAFKA.labels_topic, 0, 4, labels.encode(label)))
    out.append(_message(KAFKA.labels_topic, 0, 5, b"{}"))
    return out


def test_reads_decode_as_one_batch_with_each_bad_record_a_dead_letter() -> None:
    codec, messages = BatchCodec(KAFKA, CodecSettings()), _messages()
    whole = codec.decode(messages)  # type: ignore[arg-type]
    batch = DecodedBatch()
    for start in range(0, len(messages), 4):  # reads of four, as the poll hands them on
        codec.decode(messages[start:start + 4], batch)  # type: ignore[arg-type]
    bad = [i for i in range(30) if i % 7 == 3 or i % 11 == 5]
    for decoded in (whole, batch):
        assert [m.offset() for m in decoded.change_messages] == [
            messages[i].offset() for i in range(30) if i not in bad]
        assert [c.head for c in decoded.changes] == [f"h{i}" for i in range(30) if i not in bad]
        assert [letter.reason for letter in decoded.dead_letters] == [
            "invalid_json" if i % 7 == 3 else "unknown_symbol" for i in bad] + [
            "schema_violation"]
        assert [x.left for x in decoded.labels] == ["a"]
        assert decoded.next_offsets == {
            TopicPartition(KAFKA.triples_topic, 0): 20, TopicPartition(KAFKA.triples_topic, 1): 10,
            TopicPartition(KAFKA.triples_topic, 2): 15, TopicPartition(KAFKA.labels_topic, 0): 6}
    assert list(whole.next_offsets) == list(batch.next_offsets)  # first seen first
