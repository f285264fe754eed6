"""`stream-align run` end to end on the real broker: parity with a batch run, labels, and kill -9.

The service runs as a real subprocess (the CLI an operator runs) against the session broker; a
small synthetic dataset in the DBP15K layout keeps training, replay and processing to seconds.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from synthetic_dataset import write_synthetic_dataset

from stream_align.cli import main
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.contracts import AlignmentEvent, DeadLetter, Label, LabelValue
from stream_align.model.artifact import load
from stream_align.service.producer import EventProducer
from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_reader import latest_by_key, read_to_end
from stream_align.service.topics import ensure_topics
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

Alignment = dict[str, tuple[str, float]]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("data") / "synthetic")


@pytest.fixture(scope="module")
def model_dir(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "model"
    assert main(["train", "--dataset", str(dataset), "--out", str(out), "--epochs", "3",
                 "--hidden-dim", "16", "--threads", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def batch_alignment(dataset: Path, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                    ) -> Alignment:
    """The same model and data through the engine in one in-process batch."""
    pair = load_dataset(dataset)
    store = StateStore(StoreSettings(path=tmp_path_factory.mktemp("batch-state")))
    try:
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(load(model_dir), tx,
                                             EngineSettings(min_score_delta=0.0))
        with store.transaction() as tx:
            engine.process(tx, list(triple_changes(pair, ReplayOrder.FILE)), list(labels(pair)))
        while engine.pending_count:
            with store.transaction() as tx:
                engine.process(tx, [], [])
        return engine.final_alignment()
    finally:
        store.close()


def _config(path: Path, kafka: KafkaSettings, batch: int) -> Path:
    lines = ["[kafka]"] + [f"{k} = {json.dumps(v)}" for k, v in kafka.model_dump().items()
                           if v is not None and not isinstance(v, dict)]
    # min_score_delta 0: every score move is published, so the compacted topic holds the
    # current scores (by default it lags them by up to the delta) and can be compared at 1e-5.
    lines += ["[observability]", "http_port = 0", "log_level = \"WARNING\"",
              "[runner]", f"batch_max_records = {batch}", "[engine]", "min_score_delta = 0.0"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _service(config: Path, model: Path, state: Path, log: Path,
             until_idle: float | None = None) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "stream_align.cli", "run", "--config", str(config),
           "--model", str(model), "--state", str(state)]
    if until_idle is not None:
        cmd += ["--until-idle", str(until_idle)]
    return subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _run_to_idle(config: Path, model: Path, state: Path, log: Path) -> None:
    proc = _service(config, model, state, log, until_idle=8)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]


def _replay(dataset: Path, config: Path) -> None:
    assert main(["replay", "--dataset", str(dataset), "--order", "shuffle", "--seed", "5",
                 "--no-progress", "--config", str(config)]) == 0


def _current(kafka: KafkaSettings) -> Alignment:
    codec = Codec(AlignmentEvent)
    events = [codec.decode(v) for v in latest_by_key(kafka, kafka.alignments_topic).values()]
    return {e.left: (e.right, e.score) for e in events}


def _assert_same(got: Alignment, want: Alignment) -> None:
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in want.items()}
    for left, (_, score) in got.items():
        assert score == pytest.approx(want[left][1], abs=1e-5)


def test_service_matches_batch_and_obeys_labels(
        dataset: Path, model_dir: Path, batch_alignment: Alignment,
        kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    config = _config(tmp_path / "c.toml", kafka_settings, batch=200)
    state, log = tmp_path / "state", tmp_path / "service.log"
    _replay(dataset, config)
    _run_to_idle(config, model_dir, state, log)
    current = _current(kafka_settings)
    assert current, "the service published no alignment"
    _assert_same(current, batch_alignment)

    # A reviewer vetoes one published match and forces a pair the model did not choose
    # (among pairs the seed labels do not already decide).
    pair = load_dataset(dataset)
    seeded = {pair.a.keys[i] for i in pair.train[:, 0]}
    free = sorted((k, v) for k, v in current.items() if k not in seeded)
    (vetoed_left, (vetoed_right, _)), (forced_left, _), (_, (forced_right, _)) = free[:3]
    producer = EventProducer(kafka_settings, CodecSettings())
    for left, right, value in ((vetoed_left, vetoed_right, LabelValue.NON_MATCH),
                               (forced_left, forced_right, LabelValue.MATCH)):
        producer.send(kafka_settings.labels_topic,
                      Label.new(left=left, right=right, label=value, source="reviewer"), left)
    producer.flush()
    _run_to_idle(config, model_dir, state, log)
    after = _current(kafka_settings)
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
    config = _config(tmp_path / "c.toml", kafka_settings, batch=25)
    state, log = tmp_path / "state", tmp_path / "service.log"
    _publish_bad_records(kafka_settings)
    _replay(dataset, config)
    rng = random.Random(uuid.uuid4().int)
    for _ in range(3):
        proc = _service(config, model_dir, state, log)
        time.sleep(rng.uniform(4.0, 12.0))
        proc.kill()  # SIGKILL: no cleanup, no flush
        proc.wait()
    _run_to_idle(config, model_dir, state, log)

    _assert_same(_current(kafka_settings), batch_alignment)
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
