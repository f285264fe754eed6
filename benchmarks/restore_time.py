"""Restart to ready: a restore that rebuilds lists and pair scores against one that reads them.

    python benchmarks/restore_time.py --state DIR --model M [--work DIR] [--engine F=V ...]

Copies a service's state directory (``DIR``: e.g. the scale contract's ``--work``/state), then
in this one process (decision 0033):

1. restores the engine from the copy. A store written before candidate rows were stored (or
   while work was held) has no current rows: the restore *rebuilds* every list and pair score
   from the stored vectors, as every restore did before;
2. processes one empty batch and commits it: its delta writes every list and pair row;
3. drops that engine and restores again: now the restore *reads* the rows;
4. checks that both restored engines hold the same lists, pair scores, samples and shared-anchor
   candidates.

Prints each restore's seconds by stage (the engine's progress stages, first report to the next
stage's) and, last, one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from stream_align.engine.candidate_state import fingerprint
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.model.artifact import load
from stream_align.service.collector import collector_off, freeze_survivors
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore


class StageClock:
    """The engine's progress callback: seconds from each stage's first report to the next's,
    of wall (``stages``) and of the process's CPU (``cpu``: each stage's own where the
    restore runs on one thread, ``--engine restore_threads=1``)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stages: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._current: tuple[str, float, float] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if self._current is None or self._current[0] != stage:
            self._close(now)
            self._current = (stage, now, time.process_time())

    def _close(self, now: float) -> None:
        if self._current is not None:
            name, since, cpu = self._current
            self.stages[name] = self.stages.get(name, 0.0) + now - since
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu

    def total(self) -> float:
        now = time.perf_counter()
        self._close(now)
        self._current = None
        return now - self.started


def _restore(store: StateStore, bundle, settings: EngineSettings
             ) -> tuple[AlignmentEngine, float, dict[str, float]]:
    clock, cpu = StageClock(), time.process_time()
    with collector_off(), store.transaction() as tx:  # as the service restores
        engine = AlignmentEngine.restore(bundle, StoredState(tx), settings, clock)
    freeze_survivors()
    seconds = clock.total()
    stages = {k: round(v, 1) for k, v in clock.stages.items()}
    stages["cpu_s"] = round(time.process_time() - cpu, 1)
    if settings.restore_threads == 1:
        print(f"CPU by stage: { {k: round(v, 2) for k, v in clock.cpu.items()} }", flush=True)
    return engine, seconds, stages


def _tables(engine: AlignmentEngine) -> tuple[int, int, float, str, str, str]:
    """Entries of both sides' lists, pairs scored, the sum of the pair scores, a digest of
    the lists and pair scores, one of both sides' shared-anchor candidates (read with the
    lists since decision 0089) and one of their samples (each live node's type, slots and
    sampler count, and the summaries' triples) — read as arrays, not a Python object a pair
    (a dict of every pair was ≈ 0.5 GB at 200K a side). Two restores of one store number
    nodes alike."""
    tables, anchors, samples = hashlib.sha1(), hashlib.sha1(), hashlib.sha1()
    entries = 0
    for s, side in enumerate(engine.sides):
        nodes = np.asarray(side.graph.alive_indices(), dtype=np.int64)
        members, scores, lengths = side.lists.rows(nodes)
        entries += int(lengths.sum())
        _update(tables, members, np.where(members >= 0, scores, 0))
        if engine.anchors is not None:
            anchors.update(engine.anchors.rows(s, nodes).tobytes())
        _update(samples, *side.samples.slot_table(nodes), side.samples.types(nodes),
                side.samples.fans(nodes), side.samples.summary_triples(nodes))
    lefts = np.asarray(engine.sides[0].graph.alive_indices(), dtype=np.int64)
    offsets, rights, pair_scores = engine.book.rows(lefts)
    _update(tables, offsets, rights, pair_scores)
    return (entries, len(rights), round(float(np.sum(pair_scores, dtype=np.float64)), 3),
            tables.hexdigest()[:12], anchors.hexdigest()[:12], samples.hexdigest()[:12])


def _update(digest, *arrays: np.ndarray) -> None:
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--engine", action="append", default=[], metavar="FIELD=VALUE",
                        help="an EngineSettings field as the state was written with, e.g. "
                             "candidate_index=ivf (else the stored lists are rebuilt)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    work = args.work or Path(tempfile.mkdtemp(prefix="restore_time_"))
    copy = work / "state"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(args.state, copy)
    bundle = load(args.model)
    settings = EngineSettings(**dict(o.split("=", 1) for o in args.engine))
    store = StateStore(StoreSettings(path=copy))
    try:
        with store.transaction() as tx:
            rebuilt = tx.candidates.state() != fingerprint(bundle.version, settings)
        first, first_s, first_stages = _restore(store, bundle, settings)
        print(f"restore 1 ({'rebuilt' if rebuilt else 'read'}): {first_s:.1f} s {first_stages}",
              flush=True)
        started = time.perf_counter()
        with store.transaction() as tx:
            outcome = process_into(tx, first, [], [])
        write_s = time.perf_counter() - started
        print(f"rows written: {outcome.delta.rows()} in {write_s:.1f} s", flush=True)
        want = _tables(first)
        del first, outcome
        gc.unfreeze()  # the first engine was frozen as the service freezes it: else kept
        gc.collect()
        second, second_s, second_stages = _restore(store, bundle, settings)
        print(f"restore 2 (read): {second_s:.1f} s {second_stages}", flush=True)
        got = _tables(second)
    finally:
        store.close()
    print(json.dumps({
        "entities": sum(len(side.graph.keys) for side in second.sides),
        "restore_rebuild_s": round(first_s, 1) if rebuilt else None,
        "write_rows_s": round(write_s, 1), "restore_read_s": round(second_s, 1),
        "speedup": round(first_s / second_s, 2), "equal": got == want,
        "lists_pairs_scoresum": got,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}))


if __name__ == "__main__":
    main()
