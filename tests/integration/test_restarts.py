"""Exactly-once for real, on the real broker: restarts change nothing, an alignment event id
names one event, and an input event id is an idempotency key.

The service runs as the CLI subprocess an operator runs (``service_run``); the labels are the
hard case of issue 13: many-to-many seed MATCHes and reviewer corrections of the same pair.
"""

from __future__ import annotations

import random
import signal
import time
import uuid
from collections import Counter
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
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.eval.replay import labels as seed_labels
from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.contracts import (
    AlignmentEvent,
    DeadLetter,
    Label,
    LabelValue,
    TripleChange,
)
from stream_align.graph import GraphPair
from stream_align.model.artifact import load
from stream_align.service.engine_state import StoredState, process_into
from stream_align.service.producer import EventProducer
from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_reader import read_to_end
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

pytestmark = pytest.mark.integration
M, N = LabelValue.MATCH, LabelValue.NON_MATCH


def _labels(pair: GraphPair) -> list[Label]:
    """Seeds made many-to-many (extra MATCHes from both sides, close or equal times) and
    reviewer corrections: a seed vetoed, and some of the vetoes taken back."""
    rng = random.Random(13)
    a, b = pair.a.keys, pair.b.keys
    seeds = [(a[i], b[j]) for i, j in pair.train.tolist()]

    def label(left: str, right: str, value: LabelValue, when: int, source: str = "seed"
              ) -> Label:
        return Label.new(left=left, right=right, label=value, source=source, event_time=when,
                         id_from=(left, right, value.value, when))

    out = [label(left, right, M, 1000 + rng.randrange(4)) for left, right in seeds]
    out += [label(left, rng.choice(b), M, 1000 + rng.randrange(4)) for left, _ in seeds[::2]]
    out += [label(rng.choice(a), right, M, 1000 + rng.randrange(4)) for _, right in seeds[::3]]
    vetoed = seeds[1:8]
    out += [label(left, right, N, 2000, "reviewer") for left, right in vetoed]
    out += [label(left, right, M, 3000, "reviewer") for left, right in vetoed[::3]]
    return out


def _publish(kafka: KafkaSettings, labels: list[Label]) -> None:
    producer = EventProducer(kafka, CodecSettings())
    for item in labels:
        producer.send(kafka.labels_topic, item, item.left)
    producer.flush()


def _event_log(kafka: KafkaSettings) -> list[AlignmentEvent]:
    codec = Codec(AlignmentEvent)
    return [codec.decode(msg.value())
            for msg in read_to_end(kafka, kafka.alignment_events_topic)]


def _assert_each_id_names_one_event(events: list[AlignmentEvent]) -> None:
    counts = Counter(e.event_id for e in events)
    assert [i for i, n in counts.items() if n > 1] == []


def _reference(pair: GraphPair, model: Path, labels: list[Label], tmp: Path) -> Alignment:
    """The same changes and labels through the engine in one in-process batch."""
    store = StateStore(StoreSettings(path=tmp))
    try:
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(load(model), StoredState(tx),
                                             EngineSettings(min_score_delta=0.0))
        with store.transaction() as tx:
            process_into(tx, engine, list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=5)),
                         labels)
        while engine.pending_count:
            with store.transaction() as tx:
                process_into(tx, engine, [], [])
        return engine.final_alignment()
    finally:
        store.close()


def _crash_and_restart(config: Path, model: Path, state: Path, log: Path) -> None:
    """Five stops at random points: kill -9 (no cleanup) and SIGTERM (finish the batch; one
    that lands before the handlers are installed, while the model loads, ends the process as
    the default action does — also a crash the state must survive)."""
    rng = random.Random(uuid.uuid4().int)
    for stop in (signal.SIGKILL, signal.SIGTERM, signal.SIGKILL, signal.SIGTERM, signal.SIGKILL):
        proc = start_service(config, model, state, log)
        time.sleep(rng.uniform(4.0, 10.0) if stop == signal.SIGKILL else rng.uniform(8.0, 16.0))
        proc.send_signal(stop)
        code = proc.wait(timeout=120)
        assert code in (-signal.SIGKILL, 0, -signal.SIGTERM), log.read_text()[-3000:]


@pytest.mark.timeout(1800)  # two whole runs and five restarts: minutes on a busy machine
def test_crashes_and_restarts_change_nothing(dataset: Path, model_dir: Path,
                                             kafka_settings: KafkaSettings,
                                             tmp_path: Path) -> None:
    """Same input, one uninterrupted run (batches of 200) and one stopped five times (batches
    of 25): the same compacted alignments (equal to the in-process single batch too), and in
    both event logs every event_id names one event."""
    pair = load_dataset(dataset)
    labels = _labels(pair)
    finals, logs = {}, {}
    for name in ("calm", "stopped"):
        suffix = f"{name}-{uuid.uuid4().hex[:6]}"
        kafka = kafka_settings.model_copy(update={
            "triples_topic": f"kg.triples.{suffix}", "labels_topic": f"kg.labels.{suffix}",
            "alignment_events_topic": f"kg.alignment-events.{suffix}",
            "alignments_topic": f"kg.alignments.{suffix}",
            "dead_letter_topic": f"kg.triples.dlq.{suffix}",
            "labels_dead_letter_topic": f"kg.labels.dlq.{suffix}",
            "consumer_group": f"stream-align-{suffix}", "group_instance_id": "stream-align-0"})
        config = write_config(tmp_path / f"{name}.toml", kafka, batch=25 if name == "stopped"
                              else 200, slice_rows=4 if name == "stopped" else None)
        state, log = tmp_path / f"{name}-state", tmp_path / f"{name}.log"
        replay(dataset, config, "--no-labels")
        _publish(kafka, labels)
        if name == "stopped":
            _crash_and_restart(config, model_dir, state, log)
        run_to_idle(config, model_dir, state, log)
        finals[name], logs[name] = current(kafka), _event_log(kafka)
    assert finals["calm"], "the service published no alignment"
    assert_same(finals["stopped"], finals["calm"])
    assert_same(finals["calm"], _reference(pair, model_dir, labels, tmp_path / "reference"))
    for events in logs.values():
        _assert_each_id_names_one_event(events)


def _letters(kafka: KafkaSettings) -> list[DeadLetter]:
    """Dead letters of both inputs (triples and labels have a dead-letter topic each)."""
    codec = Codec(DeadLetter)
    return [codec.decode(m.value()) for topic in (kafka.dead_letter_topic,
                                                  kafka.labels_dead_letter_topic)
            for m in read_to_end(kafka, topic)]


def test_input_event_ids_are_idempotency_keys(dataset: Path, model_dir: Path,
                                              kafka_settings: KafkaSettings,
                                              tmp_path: Path) -> None:
    """A second replay (same ids, new times) changes and publishes nothing; an id reused for
    another change is dead-lettered (``conflicting_event_id``) and not applied; a fresh id for
    that change is applied."""
    config = write_config(tmp_path / "c.toml", kafka_settings, batch=200)
    state, log = tmp_path / "state", tmp_path / "service.log"
    replay(dataset, config)
    run_to_idle(config, model_dir, state, log)
    published = len(_event_log(kafka_settings))
    assert published and not _letters(kafka_settings)

    replay(dataset, config)  # every record again: same event ids, re-stamped times
    run_to_idle(config, model_dir, state, log)
    assert len(_event_log(kafka_settings)) == published
    assert not _letters(kafka_settings)

    pair = load_dataset(dataset)
    add = next(c for c in triple_changes(pair, ReplayOrder.SHUFFLE, seed=5) if c.tail)
    seed = next(x for x in seed_labels(pair) if x.label is M)
    producer = EventProducer(kafka_settings, CodecSettings())
    reuse = TripleChange.model_validate({**add.model_dump(), "op": "REMOVE_TRIPLE"})
    producer.send(kafka_settings.triples_topic, reuse, reuse.key)  # the ADD's id on a REMOVE
    veto = Label.model_validate({**seed.model_dump(), "label": "NON_MATCH"})
    producer.send(kafka_settings.labels_topic, veto, veto.left)  # the seed's id on a veto
    producer.flush()
    run_to_idle(config, model_dir, state, log)
    letters = _letters(kafka_settings)
    assert sorted(x.error_class for x in letters) == ["conflicting_event_id"] * 2
    assert {x.topic for x in letters} == {kafka_settings.triples_topic,
                                          kafka_settings.labels_topic}
    assert current(kafka_settings)[seed.left][0] == seed.right  # the veto was not applied
    assert _has(state, add)  # nor the REMOVE

    fresh = TripleChange.model_validate({**reuse.model_dump(), "event_id": uuid.uuid4().hex})
    producer.send(kafka_settings.triples_topic, fresh, fresh.key)
    producer.flush()
    run_to_idle(config, model_dir, state, log)
    assert not _has(state, add)  # the same change under a fresh id is applied
    assert len(_letters(kafka_settings)) == 2


def _has(state: Path, change: TripleChange) -> bool:
    store = StateStore(StoreSettings(path=state))
    try:
        with store.transaction() as tx:
            return tx.graph.has_triple(change.graph, change.head, change.relation or "",
                                       change.tail or "")
    finally:
        store.close()
