"""IVF candidate lists against the exact ones on a real dataset (decision 0012):

    python benchmarks/ivf_parity.py --dataset ../shared/datasets/dbp15k/zh_en --model M \\
        --load 150000 --batch 10 --events 300 [--engine ivf_probe=32 ...]

Runs the same events through two engines — ``candidate_index=flat`` (exact) and ``ivf`` — a
bulk load of ``--load`` events (entities first, seed labels), then ``--events`` more in batches
of ``--batch`` (the incremental path), and reports, for the IVF engine:

- parity: share of lists whose top-k equals a fresh FAISS IVF search on the same cells (the
  definition the engine keeps; should be 1.0);
- recall@k of its candidate lists against the exact engine's (both directions);
- decisions: share of entities (left keys matched by either engine) with the same partner;
- engine seconds of the timed batches (lists, total) for both, and the lists' memory.

Both engines hold the whole pair in memory at once: about twice the RSS of one.
"""

from __future__ import annotations

import argparse
import json
import tempfile
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


def _run(bundle, settings: EngineSettings, events, seed_labels, load_n: int, batch: int,
         tmp: Path) -> tuple[AlignmentEngine, dict[str, float]]:
    store = StateStore(StoreSettings(path=tmp))
    with store.transaction() as tx:
        engine = AlignmentEngine.restore(bundle, StoredState(tx), settings)
    with store.transaction() as tx:
        process_into(tx, engine, events[:load_n], seed_labels)
    while engine.pending_count:
        with store.transaction() as tx:
            process_into(tx, engine, [], [])
    timed = {"process_s": 0.0, "lists_s": 0.0, "batches": 0.0}
    tail = events[load_n:]
    for start in range(0, len(tail), batch):
        with store.transaction() as tx:
            stats = process_into(tx, engine, tail[start:start + batch], []).stats
        timed["batches"] += 1
        timed["process_s"] += stats.get("process_s", 0.0)
        timed["lists_s"] += stats.get("lists_s", 0.0)
    while engine.pending_count:
        with store.transaction() as tx:
            process_into(tx, engine, [], [])
    store.close()
    return engine, timed


def _parity(engine: AlignmentEngine) -> float:
    """Share of lists whose top-k equals a fresh IVF search of their owner's vector."""
    same = total = 0
    k = engine.settings.top_k
    for s in (0, 1):
        mine, other = engine.sides[s], engine.sides[1 - s]
        nodes = mine.indexed().tolist()
        _, ids = other.index.search(mine.vectors(nodes), k)
        for node, row in zip(nodes, ids, strict=True):
            fresh = other.node_of(row[row >= 0]).tolist()
            same += fresh == list(mine.cands.get(node, ()))
            total += 1
    return same / max(total, 1)


def _recall(ivf: AlignmentEngine, flat: AlignmentEngine) -> float:
    """Mean |IVF top-k ∩ exact top-k| / |exact top-k| over both sides' lists (by key)."""
    values = []
    for s in (0, 1):
        keys_i, keys_f = ivf.sides[1 - s].graph.keys, flat.sides[1 - s].graph.keys
        own_i, own_f = ivf.sides[s], flat.sides[s]
        index_i = own_i.graph.index
        for node, exact in own_f.cands.items():
            key = own_f.graph.keys[node]
            mine = {keys_i[y] for y in own_i.cands.get(index_i.get(key, -1), ())}
            want = {keys_f[y] for y in exact}
            values.append(len(mine & want) / max(len(want), 1))
    return float(np.mean(values)) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--load", type=int, required=True, help="bulk-loaded events")
    parser.add_argument("--batch", type=int, default=10, help="events per timed batch")
    parser.add_argument("--events", type=int, default=300, help="timed events after the load")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engine", action="append", default=[], metavar="FIELD=VALUE",
                        help="override an EngineSettings field of the IVF engine")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pair, bundle = load_dataset(args.dataset), load(args.model)
    events = list(triple_changes(pair, ReplayOrder.SHUFFLE, 7))[: args.load + args.events]
    seed_labels = list(labels(pair))
    overrides = dict(o.split("=", 1) for o in args.engine)
    result: dict[str, object] = {"load": args.load, "events": args.events, "batch": args.batch}
    engines = {}
    for mode in ("flat", "ivf"):
        settings = EngineSettings(**({"candidate_index": mode} | (overrides if mode == "ivf"
                                                                  else {})))
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            engines[mode], timed = _run(bundle, settings, events, seed_labels, args.load,
                                        args.batch, Path(tmp))
        result[mode] = {"wall_s": round(time.perf_counter() - started, 1),
                        **{k: round(v, 3) for k, v in timed.items()}}
        print(json.dumps({mode: result[mode]}), flush=True)
    ivf, flat = engines["ivf"], engines["flat"]
    a_i, a_f = ivf.final_alignment(), flat.final_alignment()
    lefts = a_i.keys() | a_f.keys()
    result.update({
        "cells": ivf.sides[0].index.nlist, "nprobe": ivf.sides[0].index.nprobe,
        "parity_topk_equal_share": round(_parity(ivf), 5),
        "recall_at_k": round(_recall(ivf, flat), 5),
        "decisions_equal_share": round(sum(a_i.get(k, ("",))[0] == a_f.get(k, ("",))[0]
                                           for k in lefts) / max(len(lefts), 1), 5),
        "matches": {"ivf": len(a_i), "flat": len(a_f)},
        "probers_bytes": sum(s.probers.nbytes() for s in ivf.sides),
    })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
