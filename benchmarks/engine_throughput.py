"""Bulk throughput of the incremental engine, without Kafka: a dataset replayed in micro-batches.

    python benchmarks/engine_throughput.py \\
        --dataset ../shared/datasets/er_benchmarks/itunes_amazon \\
        --model ~/.cache/stream-align/models/er_benchmarks-itunes_amazon --events 12000

Prints one line per batch (wall and CPU seconds, the engine's stats) and the events/s over the
timed run. ``--entities-first`` loads every entity (the shuffle puts them first) in one untimed
batch, so the timed batches are triple inserts into populated graphs. The model must have been
trained on the same dataset (``stream-align train``). ``--batch 1,10,100 --events 50,200,1000``
times several batch sizes after one load (each phase on the next events).
"""

from __future__ import annotations

import argparse
import cProfile
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import threadpoolctl
import torch

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.events.contracts import TripleChange, TripleOp
from stream_align.model.artifact import load
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

PAUSED = False
"""``--collector paused``: each call as the service runs a batch (``service.collector``)."""
PUBLISHED: list[str] = []
"""Every event of every call, as digest lines (with ``--state-digest``; times left out: the
replay stamps its inputs with the wall clock)."""


def _call(store: StateStore, engine: AlignmentEngine, events: list[TripleChange],
          seed_labels: list, label: object) -> None:
    """One ``process`` call written into a committed transaction; one line: wall, CPU, stats."""
    t, c = time.perf_counter(), time.process_time()
    stages: dict[str, float] = {}
    with _collector(stages), store.transaction() as tx:
        out = process_into(tx, engine, events, seed_labels)
    PUBLISHED.extend(f"event {e.left} {e.right} {e.decision} {e.score!r} {e.previous_score!r} "
                     f"{' '.join(e.cause)} {[x.model_dump(mode='json') for x in e.evidence]}"
                     for e in out.events)
    stats = {k: round(v, 2) for k, v in {**out.stats, **stages}.items()}
    print(f"{label:>8} {time.perf_counter() - t:6.1f}s wall {time.process_time() - c:6.1f}s CPU "
          f"{stats}", flush=True)


def _timed(store: StateStore, engine: AlignmentEngine, events: list[TripleChange],
           batch: int, seed_labels: list) -> None:
    print(f"== batches of {batch}: {len(events)} events", flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(events), batch):
        _call(store, engine, events[i:i + batch], seed_labels if i == 0 else [], i)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{len(events)} events in batches of {batch}: {elapsed:.1f}s wall, {cpu:.1f}s CPU: "
          f"{len(events) / elapsed:.0f} events/s ({len(events) / cpu:.0f} per CPU second), "
          f"{1000 * elapsed / len(events):.1f} ms wall per event", flush=True)


def _bulk_load(store: StateStore, engine: AlignmentEngine, events: list[TripleChange],
               seed_labels: list) -> None:
    """Process ``events`` in one batch, then drain the deferred recomputes (a line per call:
    the whole backlog of a dataset, as the service's backlog poll reads it, with ``--load``)."""
    started, cpu = time.perf_counter(), time.process_time()
    _call(store, engine, events, seed_labels, "load")
    while engine.pending_count:
        _call(store, engine, [], [], "drain")
    print(f"{len(events)} events loaded in {time.perf_counter() - started:.1f}s wall, "
          f"{time.process_time() - cpu:.1f}s CPU", flush=True)


def _collector(stages: dict[str, float]) -> AbstractContextManager:
    if not PAUSED:
        return nullcontext()
    from stream_align.service.collector import collector_paused  # not in older checkouts
    return collector_paused(stages)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--batch", type=_ints, default=[2000],
                        help="events per micro-batch; a comma list runs one timed phase per "
                             "size, one after the other (each on the next --events events)")
    parser.add_argument("--events", type=_ints, default=None,
                        help="stop after this many (a comma list: one per --batch size)")
    parser.add_argument("--entities-first", action="store_true",
                        help="load all entities in one untimed batch first")
    parser.add_argument("--load", type=int, default=0,
                        help="first process this many events untimed, in one bulk batch and "
                             "its drain (the steady state after a bulk load)")
    parser.add_argument("--threads", type=_ints, default=[2],
                        help="torch/BLAS threads; a comma list: one per --batch phase (the "
                             "load runs on the first; engine.single_thread_below still applies)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="write a cProfile of the timed batches (not the load) here")
    parser.add_argument("--state-digest", type=Path, default=None,
                        help="write the final state's matches (with scores), candidate lists, "
                             "pair scores and every event published (without times) here, one "
                             "sorted line each (to compare two codes' results with cmp)")
    parser.add_argument("--engine", action="append", default=[], metavar="FIELD=VALUE",
                        help="override an EngineSettings field, e.g. max_affected_per_batch=50000")
    parser.add_argument("--collector", choices=("default", "paused"), default="default",
                        help="paused: the cyclic GC off in each call, survivors frozen after it "
                             "(what the service does per batch, decision 0038)")
    args = parser.parse_args()
    global PAUSED
    PAUSED = args.collector == "paused"
    torch.set_num_threads(args.threads[0])
    pair = load_dataset(args.dataset)
    events = list(triple_changes(pair, ReplayOrder.SHUFFLE, 7))
    seed_labels = list(labels(pair))
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(StoreSettings(path=Path(tmp)))
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(load(args.model), StoredState(tx), EngineSettings(
                **dict(o.split("=", 1) for o in args.engine)))
        if args.entities_first:
            upserts = sum(1 for e in events if e.op is TripleOp.UPSERT_ENTITY)
            with store.transaction() as tx:
                process_into(tx, engine, events[:upserts], seed_labels)
            print(f"{upserts} entities loaded (untimed)", flush=True)
            events, seed_labels = events[upserts:], []
        if args.load:
            _bulk_load(store, engine, events[: args.load], seed_labels)
            events, seed_labels = events[args.load:], []
        if not events:  # --load took the whole dataset: the backlog alone
            if args.state_digest:
                _digest(engine, args.state_digest)
            store.close()
            return
        counts = args.events or [len(events)]
        threads = args.threads * len(args.batch) if len(args.threads) == 1 else args.threads
        for phase, (batch, count) in enumerate(zip(args.batch, counts, strict=True)):
            torch.set_num_threads(threads[phase])
            threadpoolctl.threadpool_limits(threads[phase])
            print(f"== {threads[phase]} threads", flush=True)
            profile = cProfile.Profile() if args.profile else None
            if profile:
                profile.enable()
            _timed(store, engine, events[:count], batch, seed_labels)
            events, seed_labels = events[count:], []
            if profile:
                profile.disable()
                profile.dump_stats(f"{args.profile}.{phase}" if len(args.batch) > 1
                                   else args.profile)
        if args.state_digest:
            _digest(engine, args.state_digest)
        store.close()


def _digest(engine: AlignmentEngine, path: Path) -> None:
    """The engine's results as sorted text lines: matches, every list head, every pair score."""
    lines = [f"match {a} {b} {engine.book.scores.get((a, b))!r}"
             for a, b in engine.decider.matches.items()]
    for s, side in enumerate(engine.sides):
        other = engine.sides[1 - s].graph.keys
        lines += [f"cands {s} {side.graph.keys[n]} {' '.join(other[y] for y in side.cands.get(n))}"
                  for n in side.indexed().tolist()]
    lines += [f"score {a} {b} {score!r}" for (a, b), score in engine.book.scores.items()]
    lines += PUBLISHED
    path.write_text("\n".join(sorted(lines)) + "\n")
    print(f"state digest: {len(lines)} lines in {path}", flush=True)


if __name__ == "__main__":
    main()
