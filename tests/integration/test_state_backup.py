"""`stream-align state backup|restore` on the real broker: a backup taken from the running
service mid-stream, the state volume lost, the backup restored, and the service converging to
what an uninterrupted run produced."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import test_service
from service_run import (
    Alignment,
    assert_same,
    current,
    replay,
    run_to_idle,
    start_service,
    write_config,
)

from stream_align.cli import main
from stream_align.eval.datasets.loader import load_dataset
from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_reader import read_to_end
from stream_align.store.recovery import all_offsets
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

pytestmark = pytest.mark.integration
# The service tests' module fixture: the same model and data in one in-process batch.
batch_alignment = test_service.batch_alignment


def _snapshot(state: Path) -> tuple[dict[tuple[str, int], int], int, Alignment]:
    """Offsets, triple count and decisions of a stopped service's state."""
    with StateStore(StoreSettings(path=state)) as store, store.transaction() as tx:
        triples = sum(1 for graph in ("A", "B") for _ in tx.graph.triples(graph))
        decisions = {d.left: (d.right, d.score) for d in tx.decisions.all()
                     if d.decision == "MATCH"}
        return dict(all_offsets(store)), triples, decisions


def _consumed(offsets: dict[tuple[str, int], int], kafka: KafkaSettings) -> int:
    return sum(offset for (topic, _), offset in offsets.items() if topic == kafka.triples_topic)


def _wait_for_output(kafka: KafkaSettings, timeout: float = 300.0) -> None:
    """Until the service has published: it holds the state open and has consumed input."""
    deadline = time.monotonic() + timeout
    while not any(True for _ in read_to_end(kafka, kafka.alignments_topic)):
        assert time.monotonic() < deadline, "the service published nothing"
        time.sleep(1.0)


def test_backup_mid_stream_then_restore_after_losing_the_state(
        dataset: Path, model_dir: Path, batch_alignment: Alignment,
        kafka_settings: KafkaSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "c.toml", kafka_settings, batch=25)
    state, backup, log = tmp_path / "state", tmp_path / "backup", tmp_path / "service.log"
    pair = load_dataset(dataset)
    total = pair.a.num_entities + pair.b.num_entities + len(pair.a.triples) + len(pair.b.triples)
    first = total // 2
    replay(dataset, config, "--limit", str(first))
    proc = start_service(config, model_dir, state, log, until_idle=8)
    try:
        _wait_for_output(kafka_settings)
        capsys.readouterr()
        assert main(["state", "backup", "--state", str(state), "--to", str(backup),
                     "--config", str(config), "--timeout", "120"]) == 0
        taken = capsys.readouterr()
        assert "open by a running service" in taken.err  # the live path, not a stopped store
        replay(dataset, config, "--skip", str(first), "--no-labels")
        assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    finally:
        proc.kill()
    if _consumed(_snapshot(state)[0], kafka_settings) < total:  # idle before the second part
        run_to_idle(config, model_dir, state, log)
    info = json.loads(taken.out)
    backed_up = sum(offset for tp, offset in info["offsets"].items()
                    if tp.rsplit("/", 1)[0] == kafka_settings.triples_topic)
    assert 0 < backed_up <= first  # mid-stream: the second half was not even published yet

    uninterrupted = _snapshot(state)
    assert uninterrupted[1] == len(pair.a.triples) + len(pair.b.triples)
    assert_same(current(kafka_settings), batch_alignment)

    shutil.rmtree(state)  # the volume is lost
    assert main(["state", "restore", "--from", str(backup), "--state", str(state),
                 "--model", str(model_dir), "--config", str(config)]) == 0
    restored = _snapshot(state)
    assert sum(restored[0].values()) < sum(uninterrupted[0].values())  # really rewound
    run_to_idle(config, model_dir, state, log)  # resumes from the backup's offsets

    offsets, triples, decisions = _snapshot(state)
    assert (offsets, triples) == uninterrupted[:2]
    assert_same(decisions, uninterrupted[2])
    assert_same(current(kafka_settings), batch_alignment)
