"""Does a restored engine do the live engine's work? A grown pair loaded in-process, then compared.

    python benchmarks/restore_parity.py --data DIR --model MODEL --state DIR \\
        [--max-affected 6000] [--tail 2000 --batch 100 --batches 3]

Loads ``DIR`` (a grown pair, ``benchmarks/scale.py``'s data) into an engine as the service does
(seeded shuffle 7, seed labels with the first batch, 250,000-record batches, then drains the
queue), each batch committed to a RocksDB store; restores a second engine from that store;
compares the two states by entity key (list rows, bounds, hub scores, CSLS heads, decoded
vectors, registered IVF cells); then gives both the same tail batches and prints each one's
counters (recomputed, lists searched, CSLS re-ranks, pairs scored), queue and RSS. IVF lists
(decision 0044: at 60K a side with ``--max-affected 6000`` the load's first refresh holds graph
A's vectors alone, as a 200K load's does with the default 20,000).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.model.artifact import load
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

KEYS = ("affected", "recomputed", "deferred", "researched", "csls_reranked", "pairs_scored",
        "events")
LOAD_BATCH = 250_000


def rss_gb() -> float:
    """This process's resident memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1e6
    return 0.0


def report(label: str, engine: AlignmentEngine, stats: dict[str, float], started: float) -> None:
    print(label, {k: stats.get(k) for k in KEYS}, "pending", engine.pending_count,
          "rss_gb", round(rss_gb(), 2), f"{time.time() - started:.1f} s", flush=True)


def _heads(engine: AlignmentEngine, s: int, nodes: np.ndarray) -> np.ndarray:
    table = engine.sides[s].lists._head  # a private read, for the comparison only
    out = np.full((len(nodes), max(table.shape[1], 1)), -1, dtype=np.int64)
    inside = nodes < len(table)
    out[inside, : table.shape[1]] = table[nodes[inside]]
    return out


def compare(live: AlignmentEngine, restored: AlignmentEngine) -> None:
    """Per side, how many of the live engine's entities differ in the restored one (by key:
    node ids are private to a process), and how many live lists are empty or short."""
    maps = [np.array([restored.sides[s].graph.index.get(k, -1)
                      for k in live.sides[s].graph.keys] + [-1], dtype=np.int64)
            for s in (0, 1)]
    for s in (0, 1):
        x, y = live.sides[s], restored.sides[s]
        nodes = x.indexed()
        to, other = maps[s][nodes], maps[1 - s]
        mx, sx, lx = x.lists.rows(nodes)
        my, sy, ly = y.lists.rows(to)
        sx, sy = np.where(mx >= 0, sx, 0.0), np.where(my >= 0, sy, 0.0)  # past a row's end
        mx = np.where(mx >= 0, other[mx], -1)
        hx = _heads(live, s, nodes)
        hx = np.where(hx >= 0, other[hx], -1)
        cells = sum(not np.array_equal(np.sort(x.probers.cells(n)), np.sort(y.probers.cells(m)))
                    for n, m in zip(nodes.tolist(), to.tolist(), strict=True)) \
            if x.probers is not None and y.probers is not None else "-"
        print(f"side {s}: {len(nodes)} vectors; live lists empty {int((lx == 0).sum())}, "
              f"bound -inf {int(np.isinf(x.bounds(nodes)).sum())}; differ in the restored: "
              f"rows {int(((mx != my).any(1) | (sx != sy).any(1) | (lx != ly)).sum())}, "
              f"bounds {int((x.bounds(nodes) != y.bounds(to)).sum())}, "
              f"hub scores {int((x.lists.hubs(nodes) != y.lists.hubs(to)).sum())}, "
              f"heads {int((hx != _heads(restored, s, to)).any(1).sum())}, "
              f"vectors {int((x.vectors(nodes.tolist()) != y.vectors(to.tolist())).any(1).sum())},"
              f" registered cells {cells}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True, help="an empty directory")
    parser.add_argument("--max-affected", type=int, default=20_000)
    parser.add_argument("--tail", type=int, default=2000, help="changes kept for the tail")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batches", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    pair, bundle = load_dataset(args.data), load(args.model)
    events = list(triple_changes(pair, ReplayOrder.SHUFFLE, 7))
    settings = EngineSettings(candidate_index="ivf", max_affected_per_batch=args.max_affected)
    loaded = len(events) - args.tail
    store = StateStore(StoreSettings(path=args.state))
    with store.transaction() as tx:
        live = AlignmentEngine.restore(bundle, StoredState(tx), settings)
    started = time.time()
    seed = list(labels(pair))
    for start in range(0, loaded, LOAD_BATCH):
        with store.transaction() as tx:
            out = process_into(tx, live, events[start:min(start + LOAD_BATCH, loaded)],
                               seed if start == 0 else [])
        report(f"load {start}", live, out.stats, started)
    while live.pending_count:
        with store.transaction() as tx:
            out = process_into(tx, live, [], [])
        report("drain", live, out.stats, started)
    started = time.time()
    with store.transaction() as tx:
        restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
    print(f"restored in {time.time() - started:.0f} s, pending {restored.pending_count}",
          flush=True)
    compare(live, restored)
    tail = events[loaded:]
    for k in range(args.batches):
        part = tail[k * args.batch:(k + 1) * args.batch]
        for name, engine in (("restored", restored), ("live", live)):
            started = time.time()
            report(f"{name} tail {k}", engine, engine.process(part, []).stats, started)
    store.close()


if __name__ == "__main__":
    main()
