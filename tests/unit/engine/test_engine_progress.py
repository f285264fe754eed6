"""The engine reports progress between chunks of a batch and of a restore (liveness beats)."""

from __future__ import annotations

from pathlib import Path

import torch
from engine_fixtures import engine_settings, open_store, synthetic_pair, untrained_bundle

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.progress import SCAN_REPORT_EVERY, chunks, counted
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.service.engine_state import StoredState, process_into

torch.set_num_threads(1)


class Recorder:
    """A plain ``progress`` callable that keeps every report."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, int, int]] = []

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.reports.append((stage, done, total))

    def stages(self) -> set[str]:
        return {stage for stage, _, _ in self.reports}


def test_chunks_report_before_each_chunk_and_at_the_end() -> None:
    seen = Recorder()
    assert list(chunks(range(0, 10, 4), seen, "s")) == [0, 4, 8]
    assert seen.reports == [("s", 0, 3), ("s", 1, 3), ("s", 2, 3), ("s", 3, 3)]


def test_counted_reports_a_scan_of_unknown_length() -> None:
    seen = Recorder()
    n = 2 * SCAN_REPORT_EVERY + 5
    assert sum(1 for _ in counted(iter(range(n)), seen, "scan")) == n
    assert seen.reports == [("scan", 0, 0), ("scan", SCAN_REPORT_EVERY, 0),
                            ("scan", 2 * SCAN_REPORT_EVERY, 0), ("scan", n, 0)]
    known = Recorder()
    assert list(counted([1, 2], known, "apply", 2)) == [1, 2]
    assert known.reports == [("apply", 0, 2), ("apply", 2, 2)]


def test_a_batch_and_a_restore_beat_between_chunks(tmp_path: Path) -> None:
    """Small chunks make one batch report many times from every long stage."""
    pair = synthetic_pair(n=48)
    bundle = untrained_bundle(pair)
    settings = engine_settings(recompute_chunk=4)
    batch = Recorder()
    engine = AlignmentEngine(bundle, settings, progress=batch)
    with open_store(tmp_path / "db") as store:
        with store.transaction() as tx:
            outcome = process_into(tx, engine, list(triple_changes(pair, ReplayOrder.FILE)),
                                     list(labels(pair)))
        assert outcome.events
        restored = Recorder()
        with store.transaction() as tx:
            AlignmentEngine.restore(bundle, StoredState(tx), settings, progress=restored)
    assert {"apply", "affected A", "recompute A", "recompute B", "candidate lists",
            "pair scores", "decisions", "events"} <= batch.stages()
    recompute = [done for stage, done, _ in batch.reports if stage == "recompute A"]
    chunks_done = sorted(set(recompute))
    assert recompute == sorted(recompute) and chunks_done == list(range(len(chunks_done)))
    assert len(chunks_done) > 48 // 4 and len(recompute) >= 5 * (len(chunks_done) - 1)
    assert {"restore A: entities", "restore A: triples", "restore A: embeddings",
            "restore B: embeddings", "restore A: candidate lists", "restore B: candidate lists",
            "restore: pair scores"} <= restored.stages()  # read, not rebuilt (decision 0033)
    # the read restore's longer parts beat too (decision 0089), each side's from its thread
    assert {"restore A: anchor candidates", "restore B: anchor candidates", "restore A: lists",
            "restore B: lists", "restore: CSLS heads", "restore A: probed cells",
            "restore B: probed cells"} <= restored.stages()
