"""`stream-align run` end to end on the real broker: parity with a batch run, labels, and kill -9.

The service runs as a real subprocess (the CLI an operator runs) against the session broker; a
small synthetic dataset in the DBP15K layout keeps training, replay and processing to seconds.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

import pytest
from service_run import (
    Alignment,
    assert_same,
    current,
    replay,
    run_to_idle,
    start_service,
    write_config,
)

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.contracts import AlignmentEvent, DeadLetter, Label, LabelValue
from stream_align.model.artifact import load
from stream_align.service.engine_state import StoredState, process_into
from stream_align.service.producer import EventProducer
from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_reader import read_to_end
from stream_align.service.topics import ensure_topics
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def batch_alignment(dataset: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                    ) -> Alignment:
    """The same model and data through the engine in one in-process batch."""
    pair = load_dataset(dataset)
    store = StateStore(StoreSettings(path=tmp_path_factory.mktemp("batch-state")))
    try:
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(load(model_dir), StoredState(tx),
                                             EngineSettings(min_score_delta=0.0))
        with store.transaction() as tx:
            process_into(tx, engine, list(triple_changes(pair, ReplayOrder.FILE)),
                         list(labels(pair)))
        while engine.pending_count:
            with store.transaction() as tx:
                process_into(tx, engine, [], [])
        return engine.final_alignment()
    finally:
        store.close()


def test_service_matches_batch_and_obeys_labels(
        dataset: Path, model_dir: Path, batch_alignment: Alignment,
        kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", kafka_settings, batch=200)
    state, log = tmp_path / "state", tmp_path / "service.log"
    replay(dataset, config)
    run_to_idle(config, model_dir, state, log)
    now = current(kafka_settings)
    assert now, "the service published no alignment"
    assert_same(now, batch_alignment)

    # A reviewer vetoes one published match and forces a pair the model did not choose
    # (among pairs the seed labels do not already decide).
    pair = load_dataset(dataset)
    seeded = {pair.a.keys[i] for i in pair.train[:, 0]}
    free = sorted((k, v) for k, v in now.items() if k not in seeded)
    (vetoed_left, (vetoed_right, _)), (forced_left, _), (_, (forced_right, _)) = free[:3]
    producer = EventProducer(kafka_settings, CodecSettings())
    for left, right, value in ((vetoed_left, vetoed_right, LabelValue.NON_MATCH),
                               (forced_left, forced_right, LabelValue.MATCH)):
        producer.send(kafka_settings.labels_topic,
                      Label.new(left=left, right=right, label=value, source="reviewer"), left)
    producer.flush()
    run_to_idle(config, model_dir, state, log)
    after = current(kafka_settings)
    assert after.get(vetoed_left, ("",))[0] != vetoed_right
    assert after[forced_left][0] == forced_right
    retracts = [e for e in map(Codec(AlignmentEvent).decode, (m.value() for m in read_to_end(
        kafka_settings, kafka_settings.alignment_events_topic)))
        if e.left == vetoed_left and e.right == vetoed_right and e.decision == "RETRACT"]
    assert retracts and retracts[-1].previous_decision == "MATCH"


def _publish_bad_records(kafka: KafkaSettings) -> None:
    ensure_topics(kafka)
    producer = EventProducer(kafka, CodecSettings())
    producer.send_raw(kafka.triples_topic, b"\xff\x00garbage", "x")
    producer.send_raw(kafka.triples_topic, json.dumps({
        "event_id": "rm-missing", "event_time": 1, "graph": "A", "op": "REMOVE_TRIPLE",
        "head": "a:000001", "relation": "http://a.example/rel0", "tail": "a:000002"}).encode(), "A")
    producer.send_raw(kafka.triples_topic, json.dumps({
        "event_id": "graph-z", "event_time": 1, "graph": "Z", "op": "UPSERT_ENTITY",
        "head": "z:1"}).encode(), "Z")
    producer.flush()


def test_kill_9_at_random_points_converges(
        dataset: Path, model_dir: Path, batch_alignment: Alignment,
        kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    # Static membership, as the Helm chart deploys it: each restart takes the partitions back at
    # once, so every kill lands mid-stream (a dynamic member would wait out the dead one's session).
    kafka_settings = kafka_settings.model_copy(update={"group_instance_id": "stream-align-0"})
    config = write_config(tmp_path / "c.toml", kafka_settings, batch=25, slice_rows=4)
    state, log = tmp_path / "state", tmp_path / "service.log"
    _publish_bad_records(kafka_settings)
    replay(dataset, config)
    rng = random.Random(uuid.uuid4().int)
    for _ in range(3):
        proc = start_service(config, model_dir, state, log)
        time.sleep(rng.uniform(4.0, 12.0))
        proc.kill()  # SIGKILL: no cleanup, no flush
        proc.wait()
    run_to_idle(config, model_dir, state, log)

    assert_same(current(kafka_settings), batch_alignment)
    letters = {}
    for msg in read_to_end(kafka_settings, kafka_settings.dead_letter_topic):
        letter = Codec(DeadLetter).decode(msg.value())
        letters[letter.event_id] = letter.error_class
    assert sorted(letters.values()) == ["invalid_utf8", "missing_triple", "unknown_graph"]

    pair = load_dataset(dataset)
    store = StateStore(StoreSettings(path=state))
    try:
        with store.transaction() as tx:
            assert sum(1 for _ in tx.graph.triples("A")) == len(pair.a.triples)
            assert sum(1 for _ in tx.graph.triples("B")) == len(pair.b.triples)
            consumed = sum(offset for tp, offset in tx.delivery.offsets()
                           if tp.topic == kafka_settings.triples_topic)
    finally:
        store.close()
    assert consumed == 3 + pair.a.num_entities + pair.b.num_entities + len(pair.a.triples) + len(
        pair.b.triples)
