"""How long the engine goes without a progress report (a liveness beat), in bulk batches and in
a restore — the number ``observability.liveness_timeout_s`` (60 s) must stay above.

    python benchmarks/beat_gaps.py --dataset ../shared/datasets/dbp15k/zh_en --model M

Replays the whole dataset (seeded shuffle, as ``benchmarks/bulk_replay.sh``) through the engine
in micro-batches of ``--batch`` records (the service's default bulk batch), draining deferred
recomputes as the service does, then restores a fresh engine from the store. Prints, per
``process`` call and for the restore: wall seconds, beats, and the longest gap between two
beats (or the call's start/end) with the stage that ended it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.model.artifact import load
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore


class Gaps:
    """A progress callable that keeps the longest silence and what broke it."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.last = time.perf_counter()
        self.beats, self.longest, self.stage = 0, 0.0, "start"

    def __call__(self, stage: str, done: int, total: int) -> None:
        self._gap(stage)
        self.beats += 1

    def _gap(self, stage: str) -> None:
        now = time.perf_counter()
        if now - self.last > self.longest:
            self.longest, self.stage = now - self.last, stage
        self.last = now

    def report(self, what: str, started: float) -> float:
        self._gap("end")
        print(f"{what}: {time.perf_counter() - started:6.1f} s, {self.beats} beats, longest gap "
              f"{self.longest:5.2f} s (before {self.stage})", flush=True)
        return self.longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=250_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pair, bundle, settings = load_dataset(args.dataset), load(args.model), EngineSettings()
    events = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=7))
    gaps, worst = Gaps(), 0.0
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(StoreSettings(path=Path(tmp) / "state"))
        engine = AlignmentEngine(bundle, settings, progress=gaps)
        calls = 0
        for i in range(0, len(events), args.batch):
            calls += 1
            gaps.reset()
            started = time.perf_counter()
            with store.transaction() as tx:
                process_into(tx, engine, events[i:i + args.batch],
                             list(labels(pair)) if i == 0 else [])
                gaps("commit", 0, 0)  # as the service beats before its commit
            worst = max(worst, gaps.report(f"batch {calls} ({len(events[i:i + args.batch])})",
                                           started))
        while engine.pending_count:
            calls += 1
            gaps.reset()
            started = time.perf_counter()
            with store.transaction() as tx:
                process_into(tx, engine, [], [])
                gaps("commit", 0, 0)
            worst = max(worst, gaps.report(f"drain {calls}", started))
        gaps.reset()
        started = time.perf_counter()
        with store.transaction() as tx:
            AlignmentEngine.restore(bundle, StoredState(tx), settings, progress=gaps)
        worst = max(worst, gaps.report("restore", started))
        store.close()
    print(f"longest gap between beats: {worst:.2f} s")


if __name__ == "__main__":
    main()
