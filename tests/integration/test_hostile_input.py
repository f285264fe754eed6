"""The service against hostile input on the real broker: it never stops, applies every good event
around the bad ones, and dead-letters every bad one with its reason, on its topic's DLQ.

The service is the real ``AlignmentService`` (real Kafka, real RocksDB, the real engine with a
small untrained model) driven in-process one ``step`` at a time, so one service lives through
every example hypothesis draws. Each example interleaves good events (new entities, triples
between them, labels) with hostile records: huge keys (the 70,000-character one of issue 13),
huge or too many attributes, deep nesting, bad bytes, lone surrogates, schema and contract
violations, unknown symbols and graphs, oversized messages. After each, the store holds exactly
the good events' effects, the engine's memory matches the store, and the dead-letter topics hold
one letter per bad record, at its offset, with the expected reason.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.trace import NoOpTracer
from synthetic_dataset import write_synthetic_dataset
from untrained_model import untrained_bundle

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.contracts import DeadLetter, Label, LabelValue, TripleChange
from stream_align.model.bundle import ModelBundle
from stream_align.service.observability import HealthState, ServiceMetrics
from stream_align.service.producer import EventProducer
from stream_align.service.runner import AlignmentService
from stream_align.service.settings import KafkaSettings, RunnerSettings
from stream_align.service.topic_reader import read_to_end
from stream_align.service.topics import ensure_topics
from stream_align.store.records import TopicPartition
from stream_align.store.recovery import stored_offsets
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore
from stream_align.store.transaction import Transaction

pytestmark = pytest.mark.integration
CODEC = CodecSettings(max_bytes=512 << 10)
LIMITS = CODEC.limits
T = TripleChange


@dataclass
class Feed:
    """What one example publishes, and what it expects."""

    triples: list[bytes] = field(default_factory=list)
    labels: list[bytes] = field(default_factory=list)
    upserts: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    links: list[tuple[str, str, str, str]] = field(default_factory=list)
    pairs: dict[tuple[str, str], str] = field(default_factory=dict)
    bad: dict[tuple[str, int], str] = field(default_factory=dict)  # (input, index) → reason


def _fresh() -> str:
    return uuid.uuid4().hex


def _json(**fields: Any) -> bytes:
    return json.dumps({"event_id": "hostile", "event_time": 1, **fields}).encode()


UPSERT = {"graph": "A", "op": "UPSERT_ENTITY", "head": "a:bad"}
_sizes = st.integers(LIMITS.max_key_bytes + 1, 70_000)
HOSTILE_TRIPLES: dict[str, st.SearchStrategy[bytes]] = {
    "oversized_key": st.one_of(
        _sizes.map(lambda n: _json(**{**UPSERT, "head": "k" * n})),
        _sizes.map(lambda n: _json(graph="A", op="ADD_TRIPLE", head="a:x", relation="r" * n,
                                   tail="a:y")),
        _sizes.map(lambda n: _json(**{**UPSERT, "entity_type": "t" * n})),
        _sizes.map(lambda n: json.dumps({"event_id": "i" * n, "event_time": 1,
                                         **UPSERT}).encode())),
    "oversized_entity": st.one_of(
        st.integers(LIMITS.max_attributes + 1, 3000).map(
            lambda n: _json(**UPSERT, attributes={f"k{i}": "v" for i in range(n)})),
        st.integers(LIMITS.max_attribute_bytes + 1, 300_000).map(
            lambda n: _json(**UPSERT, attributes={"name": "n" * n}))),
    "too_deep": st.integers(LIMITS.max_depth, 50_000).map(  # past ~1,000: the parser's limit
        lambda n: _json(**UPSERT)[:-1] + b', "x": ' + b"[" * n + b"]" * n + b"}"),
    "oversized": st.integers(CODEC.max_bytes + 1, CODEC.max_bytes + 50_000).map(
        lambda n: _json(**UPSERT, pad="p" * n)),
    "invalid_utf8": st.one_of(
        st.binary(max_size=200).map(lambda raw: b"\xff" + raw),
        st.just(_json(**UPSERT).replace(b'"a:bad"', b'"\\ud800"'))),
    "invalid_json": st.text(st.characters(codec="ascii", exclude_characters="{[\"0123456789-tfn "),
                            min_size=1, max_size=50).map(str.encode),
    "schema_violation": st.sampled_from([
        _json(graph="A", op="UPSERT_ENTITY"), _json(**{**UPSERT, "head": 5}),
        _json(**UPSERT, attributes={"name": 5}), b'{"event_id": "x"}']),
    "invariant_violation": st.sampled_from([
        _json(graph="A", op="ADD_TRIPLE", head="a:x", relation="r"),
        _json(**{**UPSERT, "head": ""}), _json(**UPSERT, event_time=-5)]),
    "unknown_symbol": st.sampled_from(["MERGE_ENTITIES", "UNKNOWN", "explode"]).map(
        lambda op: _json(graph="A", op=op, head="a:x")),
    # these two decode, so their event_id is an idempotency key: a fresh one per record (a
    # reused id would be dropped as a re-send or dead-lettered as conflicting_event_id)
    "unknown_graph": st.builds(lambda: _json(**{**UPSERT, "graph": "Z"}, event_id=_fresh())),
    "missing_triple": st.builds(lambda: _json(graph="B", op="REMOVE_TRIPLE", head="b:none",
                                              relation="r", tail="b:nothing",
                                              event_id=_fresh())),
}
HOSTILE_LABELS: dict[str, st.SearchStrategy[bytes]] = {
    "oversized_key": _sizes.map(lambda n: _json(left="a:" + "l" * n, right="b:r",
                                                label="MATCH", source="reviewer")),
    "unknown_symbol": st.just(_json(left="a:l", right="b:r", label="MAYBE", source="s")),
    "invalid_utf8": st.binary(max_size=100).map(lambda raw: b"\xfe" + raw),
}


@st.composite
def feeds(draw: st.DrawFn, example: Iterator[int]) -> Feed:
    """Good events of fresh entities interleaved with hostile records, in a drawn order."""
    n, feed = next(example), Feed()
    items: list[tuple[str, bytes | None, str | None]] = []
    for i in range(draw(st.integers(1, 4))):
        for graph in ("A", "B"):
            key = f"{graph.lower()}:{n}-{i}"
            attrs = {"name": f"entity {n} {i}", "year": str(1900 + i)}
            items.append(("triples", Codec(T, CODEC).encode(T.upsert_entity(
                graph, key, attributes=attrs)), None))
            feed.upserts[graph, key] = attrs
            if i:
                link = (graph, f"{graph.lower()}:{n}-{i - 1}", "http://x/rel1", key)
                items.append(("triples", Codec(T, CODEC).encode(T.add_triple(*link)), None))
                feed.links.append(link)
        label = Label.new(left=f"a:{n}-{i}", right=f"b:{n}-{i}", label=LabelValue.MATCH,
                          source="seed")
        items.append(("labels", Codec(Label, CODEC).encode(label), None))
        feed.pairs[label.left, label.right] = "MATCH"
    for _ in range(draw(st.integers(1, 6))):
        to_labels = draw(st.booleans()) and draw(st.booleans())
        table = HOSTILE_LABELS if to_labels else HOSTILE_TRIPLES
        reason = draw(st.sampled_from(sorted(table)))
        items.append(("labels" if to_labels else "triples", draw(table[reason]), reason))
    for topic, value, reason in draw(st.permutations(items)):
        out = feed.labels if topic == "labels" else feed.triples
        if reason is not None:
            feed.bad[topic, len(out)] = reason
        out.append(value or b"")
    return feed


class Harness:
    """One service for every example, and what has been published so far."""

    def __init__(self, kafka: KafkaSettings, store: StateStore, service: AlignmentService):
        self.kafka, self.store, self.service = kafka, store, service
        self.producer = EventProducer(kafka, CODEC)
        self.sent = {"triples": 0, "labels": 0}
        self.letters: dict[tuple[str, int], str] = {}

    def publish(self, feed: Feed) -> dict[tuple[str, int], str]:
        """Send the feed; return its expected dead letters as (input topic, offset) → reason."""
        expected = {}
        for name, values in (("triples", feed.triples), ("labels", feed.labels)):
            topic = getattr(self.kafka, f"{name}_topic")
            for index, value in enumerate(values):
                if (name, index) in feed.bad:
                    expected[topic, self.sent[name] + index] = feed.bad[name, index]
                self.producer.send_raw(topic, value, "k")
            self.sent[name] += len(values)
        self.producer.flush()
        return expected

    def process(self, timeout: float = 120.0) -> None:
        """Step the service until the store's offsets reach everything sent."""
        tps = {TopicPartition(self.kafka.triples_topic, 0): self.sent["triples"],
               TopicPartition(self.kafka.labels_topic, 0): self.sent["labels"]}
        deadline = time.monotonic() + timeout
        while any(stored_offsets(self.store, [tp]).get(tp, 0) < end for tp, end in tps.items()):
            assert time.monotonic() < deadline, "the service stopped making progress"
            self.service.step()

    def new_letters(self) -> dict[tuple[str, int], str]:
        """Dead letters published since the last call, as (input topic, offset) → reason."""
        codec = Codec(DeadLetter, CODEC)
        found = {}
        for dlq, source in ((self.kafka.dead_letter_topic, self.kafka.triples_topic),
                            (self.kafka.labels_dead_letter_topic, self.kafka.labels_topic)):
            for msg in read_to_end(self.kafka, dlq):
                letter = codec.decode(msg.value())
                assert letter.topic == source, f"{letter.topic} dead-lettered on {dlq}"
                found[letter.topic, letter.offset] = letter.error_class
        new = {k: v for k, v in found.items() if k not in self.letters}
        self.letters = found
        return new


def assert_memory_matches_store(service: AlignmentService, tx: Transaction) -> None:
    """The engine's mirrors hold exactly the store's entities: never ahead of it."""
    engine = service._engine
    assert isinstance(engine, AlignmentEngine)
    for side in engine.sides:
        graph = side.graph
        alive = {key for key in graph.keys if graph.alive(key)}
        assert alive == {e.id for e in tx.graph.entities(graph.graph_id)}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> ModelBundle:
    data = write_synthetic_dataset(tmp_path_factory.mktemp("data") / "synthetic", n=40)
    return untrained_bundle(load_dataset(data))


@contextmanager
def _harness(kafka_settings: KafkaSettings, bundle: ModelBundle,
             tmp_path: Path) -> Iterator[Harness]:
    kafka = kafka_settings.model_copy(update={"partitions": 1})
    ensure_topics(kafka)
    store = StateStore(StoreSettings(path=tmp_path / "state", block_cache_mb=8,
                                     memtable_budget_mb=8))
    engine = EngineSettings(top_k=3, match_threshold=0.3, keep_threshold=0.3)
    service = AlignmentService(
        kafka, CODEC, RunnerSettings(poll_timeout_s=0.1), store,
        lambda stored, progress: AlignmentEngine.restore(bundle, stored, engine, progress),
        ServiceMetrics(), HealthState(), NoOpTracer())
    service.start()
    try:
        yield Harness(kafka, store, service)
    finally:
        service.close()
        store.close()


@pytest.fixture
def harness(kafka_settings: KafkaSettings, bundle: ModelBundle,
            tmp_path: Path) -> Iterator[Harness]:
    with _harness(kafka_settings, bundle, tmp_path) as started:
        yield started


def test_hostile_input_never_stops_the_service(harness: Harness) -> None:
    example = iter(range(10_000))

    @settings(max_examples=12, deadline=None, derandomize=False, database=None,
              suppress_health_check=list(HealthCheck))
    @given(feed=feeds(example))
    def one_feed(feed: Feed) -> None:
        expected = harness.publish(feed)
        harness.process()
        assert harness.new_letters() == expected
        with harness.store.transaction() as tx:
            for (graph, key), attrs in feed.upserts.items():
                entity = tx.graph.entity(graph, key)
                assert entity is not None and entity.attributes == attrs
            for link in feed.links:
                assert tx.graph.has_triple(*link)
            for (left, right), value in feed.pairs.items():
                stored = tx.labels.get(left, right)
                assert stored is not None and (stored.label, stored.source) == (value, "seed")
            assert_memory_matches_store(harness.service, tx)

    one_feed()


def test_an_input_the_store_refuses_is_dead_lettered_alone(
        kafka_settings: KafkaSettings, bundle: ModelBundle, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: a store stricter than the decode-time limits (here its key component
    limit lowered to 200 bytes) refuses an input mid-batch. Only that input is dead-lettered
    (``unstorable``), the rest of the batch is applied, and the engine's memory, which the
    refused change had already touched (the bare tail entity), is rebuilt from the store."""
    monkeypatch.setattr("stream_align.store.keys.MAX_COMPONENT_BYTES", 200)
    long_key = "a:" + "x" * 300
    feed = Feed()
    for change in (T.upsert_entity("A", "a:ok", attributes={"name": "ok"}),
                   T.add_triple("A", "a:ok", "http://x/rel1", long_key),
                   T.upsert_entity("B", "b:ok", attributes={"name": "ok"})):
        feed.triples.append(Codec(T, CODEC).encode(change))
    feed.labels.append(Codec(Label, CODEC).encode(Label.new(
        left="a:ok", right="b:" + "y" * 300, label=LabelValue.MATCH, source="seed")))
    with _harness(kafka_settings, bundle, tmp_path) as harness:
        harness.publish(feed)
        harness.process()
        assert harness.new_letters() == {(harness.kafka.triples_topic, 1): "unstorable",
                                         (harness.kafka.labels_topic, 0): "unstorable"}
        with harness.store.transaction() as tx:
            assert tx.graph.has_entity("A", "a:ok") and tx.graph.has_entity("B", "b:ok")
            assert_memory_matches_store(harness.service, tx)
