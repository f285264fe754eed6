"""Where the engine's memory per entity goes, by structure, after a bulk load:

    python benchmarks/memory_breakdown.py --dataset DIR --model M [--batch 250000] [--peaks]
        [--engine FIELD=VALUE ...] [--backlog] [--heap keep|trim] [--state DIR]
        [--state-digest FILE] [--mmap-threshold BYTES] [--fresh-events]

Feeds the whole dataset (seeded shuffle, entities first, seed labels) to one engine in batches
of ``--batch`` records (the service's default micro-batch), drains the deferred queue, then
walks each engine structure and sums the bytes it holds: Python objects by ``sys.getsizeof``
(containers walked, each object counted once), numpy arrays by ``nbytes``, FAISS indexes by
their stored vectors. Prints one JSON object: RSS, bytes per entity by structure, and the total
the walk found (the rest of RSS is the interpreter, torch, the model, allocator slack).
``--peaks`` adds where the transients are: the highest RSS seen (sampled every 20 ms) while
each engine progress stage ran, and the RSS steady state before the load. ``--fresh-events``
holds each batch's events encoded (JSON lines) and decodes them just before the batch, as the
service decodes its input: what the engine keeps of an event (a key, a name) is then allocated
among that batch's temporaries, not shared with events held for the whole run (decision 0069).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import engine_throughput  # (benchmarks/: the script's own directory)
import numpy as np
import torch

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.events.contracts import TripleChange
from stream_align.model.artifact import load
from stream_align.service.collector import collector_paused, fix_mmap_threshold
from stream_align.service.engine_state import StoredState, write_delta
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore


def deep_size(obj: object, seen: set[int]) -> int:
    """Bytes reachable from ``obj`` not yet counted in ``seen`` (no modules, types, callables,
    model or FAISS internals: those are reported separately)."""
    stack, total = [obj], 0
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, (type, torch.nn.Module)) or callable(item):
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            total += item.nbytes + 112 if item.base is None else 112
            continue
        if type(item).__module__.startswith("faiss"):
            continue
        if hasattr(item, "nbytes") and callable(item.nbytes):  # numpy-backed tables
            total += item.nbytes()
            continue
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
        elif hasattr(item, "__slots__"):
            stack.extend(getattr(item, s) for s in item.__slots__ if hasattr(item, s))
    return total


def breakdown(engine: AlignmentEngine) -> dict[str, int]:
    """Bytes per engine structure (shared objects counted where first met, in this order)."""
    seen: set[int] = {id(engine.bundle), id(engine.settings)}
    out: dict[str, int] = {}
    for side in engine.sides:
        tag = side.graph.label
        index = side.index
        code = 2 if getattr(index, "float16", False) else 4  # IVF half-float codes: 2 bytes
        out[f"{tag}.faiss_vectors"] = len(index) * index.dim * code if index is not None else 0
        seen.add(id(index))
        for name in ("graph", "samples", "features", "views", "level1", "lists", "cands",
                     "listed_by", "_fid_of", "_node_of", "_bound", "probers"):
            out[f"{tag}.{name}"] = deep_size(getattr(side, name), seen)
    for name in ("book", "decider", "pending", "held"):
        out[name] = deep_size(getattr(engine, name), seen)
    return out


def rocksdb_bytes(store: StateStore) -> dict[str, int]:
    """RocksDB's own memory (not walked above): every table's memtables, the shared block
    cache (indexes and filters are in it, ``cache_index_and_filters``) and any table readers
    outside it (a measurement: the store exposes no such read, so its handles are read here)."""
    database = store._database
    tables = database._tables.values()
    return {"memtables": sum(t.property_int_value("rocksdb.cur-size-all-mem-tables") or 0
                             for t in tables),
            "block_cache": database._db.property_int_value(
                "rocksdb.block-cache-usage") or 0,
            "table_readers": sum(t.property_int_value("rocksdb.estimate-table-readers-mem")
                                 or 0 for t in tables)}


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


class StagePeaks:
    """The engine's progress callback with an RSS sampler: the highest RSS per stage."""

    def __init__(self) -> None:
        self.stage = "outside the engine"
        self.peaks: dict[str, int] = {}
        self.since = 0  # the highest RSS since the last ``take_since``
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.stage = stage.split(":")[0]

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            stage, rss = self.stage, _rss()
            self.peaks[stage] = max(self.peaks.get(stage, 0), rss)
            self.since = max(self.since, rss)

    def take_since(self) -> int:
        """The highest RSS sampled since the last call (one batch's peak)."""
        since, self.since = max(self.since, _rss()), 0
        return since

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return dict(sorted(self.peaks.items(), key=lambda kv: -kv[1]))


def _batch(store: StateStore, engine: AlignmentEngine, changes: list, labels: list,
           peaks: StagePeaks | None, heap: str | None) -> list[int]:
    """One engine call and the commit of its delta (``process_into``, the stages told apart);
    with ``heap``, inside the service's collector (``collector_paused``), the heap's free pages
    released after it (``trim``) or not (``keep``). Returns the batch's records, the queue
    after it, its peak RSS (with ``peaks``), the RSS at its end and after the collector."""
    with nullcontext() if heap is None else collector_paused({}, heap == "trim"):
        outcome = engine.process(changes, labels)
        if peaks is not None:
            peaks("store write", 0, 1)
        with store.transaction() as tx:
            write_delta(tx, outcome.delta)
        del outcome
        if peaks is not None:
            peaks("between batches", 0, 1)
        ended = _rss()
    peak = peaks.take_since() if peaks is not None else 0
    return [len(changes), engine.pending_count, peak, ended, _rss()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=250_000,
                        help="records per engine call (the service's default micro-batch)")
    parser.add_argument("--peaks", action="store_true", help="the highest RSS per stage")
    parser.add_argument("--engine", action="append", default=[], metavar="FIELD=VALUE",
                        help="override an EngineSettings field, e.g. candidate_index=ivf")
    parser.add_argument("--backlog", action="store_true",
                        help="drain the queue once, after the last batch (the service under a "
                             "backlog), not after each batch")
    parser.add_argument("--state", type=Path, default=None,
                        help="keep the store here (an empty directory; default: a temporary "
                             "one), e.g. for benchmarks/restore_time.py")
    parser.add_argument("--mmap-threshold", type=int, default=0,
                        help="bytes: allocations this large mmapped and returned when freed "
                             "(collector.fix_mmap_threshold, runner.mmap_threshold_bytes); "
                             "0: glibc's dynamic threshold")
    parser.add_argument("--state-digest", type=Path, default=None,
                        help="write the final matches, candidate lists and pair scores here "
                             "(engine_throughput's digest: two codes compared with cmp)")
    parser.add_argument("--fresh-events", action="store_true",
                        help="each batch's events held encoded and decoded just before it "
                             "(the service's shape: nothing shared with events held all along)")
    parser.add_argument("--heap", choices=("keep", "trim"), default=None,
                        help="each batch inside the service's collector, the heap's free pages "
                             "kept or released after it (runner.trim_heap)")
    args = parser.parse_args()
    fix_mmap_threshold(args.mmap_threshold)
    bundle = load(args.model)
    empty = _rss()  # the model loaded, no state: the service's base
    pair = load_dataset(args.dataset)
    events, seed_labels = list(triple_changes(pair, ReplayOrder.SHUFFLE, 7)), list(labels(pair))
    entities = pair.a.num_entities + pair.b.num_entities
    del pair
    chunks = [events[i:i + args.batch] for i in range(0, len(events), args.batch)]
    del events
    if args.fresh_events:
        chunks = [b"\n".join(e.model_dump_json().encode() for e in c) for c in chunks]
    steady = _rss()
    peaks = StagePeaks() if args.peaks else None
    started = time.perf_counter()
    with nullcontext(args.state) if args.state else tempfile.TemporaryDirectory() as tmp:
        store = StateStore(StoreSettings(path=Path(tmp)))
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(bundle, StoredState(tx), EngineSettings(
                **dict(o.split("=", 1) for o in args.engine)),
                                             peaks or (lambda *_: None))
        batches = []  # records, queued, peak, RSS at the end, RSS after the collector
        for i, chunk in enumerate(chunks):
            changes = [TripleChange.model_validate_json(line) for line in chunk.split(b"\n")] \
                if args.fresh_events else chunk
            batches.append(_batch(store, engine, changes, seed_labels if i == 0 else [], peaks,
                                  args.heap))
            del changes
            while engine.pending_count and (not args.backlog or i + 1 == len(chunks)):
                batches.append(_batch(store, engine, [], [], peaks, args.heap))
        rocksdb = rocksdb_bytes(store)
        store.close()
    loaded_s = time.perf_counter() - started
    del chunks
    if args.state_digest:
        engine_throughput._digest(engine, args.state_digest)
    parts = breakdown(engine)
    found = sum(parts.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rss = _rss()
    stage_peaks = {} if peaks is None else {"rss_before_load": steady, "stage_peaks": {
        k: v for k, v in peaks.stop().items()}, "batches_mb": [
            [*b[:2], *(round(x / 2**20) for x in b[2:])] for b in batches]}
    print(json.dumps({**stage_peaks, "rss_model_loaded": empty,
        "entities": entities, "load_s": round(loaded_s, 1), "rss_bytes": rss,
        "peak_rss_bytes": peak, "walked_bytes": found, "rocksdb_bytes": rocksdb,
        "walked_bytes_per_entity": round(found / entities, 1),
        "per_entity": {k: round(v / entities, 1) for k, v in
                       sorted(parts.items(), key=lambda kv: -kv[1])}}))


if __name__ == "__main__":
    main()
