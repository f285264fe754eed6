"""Do float16 retrieval vectors change the alignment? The same stream with float32 and float16.

    python benchmarks/fp16_vectors.py --dataset DIR --model M [--batch 250000]

Streams the dataset (seeded shuffle, entities first, the seed labels) through the engine in
batches of ``--batch`` records (the service's bulk micro-batch) and drains the queue, twice:
with the indexed vectors as float32 (today) and rounded to float16 where they enter the FAISS
index — exactly what a float16 store decoded to float32 a block at a time would compute (every
search, scan and pair score reads the indexed vectors). Compares the final alignments (P/R/F1
on the test split, decisions identical, score differences) and the candidate lists (top-k
overlap). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import stream_align.index.vector_index as vector_index
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.eval.stream_summary import summarise
from stream_align.graph import GraphPair
from stream_align.model.artifact import load
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

_FLOAT32 = vector_index.prepared


def _float16(vectors: np.ndarray, dim: int, normalise: bool) -> np.ndarray:
    """The indexed rows rounded to float16 (and read back as float32)."""
    return _FLOAT32(vectors, dim, normalise).astype(np.float16).astype(np.float32)


def _stream(pair: GraphPair, bundle, batch: int) -> tuple[dict, list[dict], float]:
    """Final alignment, each side's candidates (key → top-k keys), seconds."""
    events, seeds = list(triple_changes(pair, ReplayOrder.SHUFFLE, 7)), list(labels(pair))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(StoreSettings(path=Path(tmp)))
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(bundle, StoredState(tx), EngineSettings())
        for i in range(0, len(events), batch):
            with store.transaction() as tx:
                process_into(tx, engine, events[i:i + batch], seeds if i == 0 else [])
            while engine.pending_count:
                with store.transaction() as tx:
                    process_into(tx, engine, [], [])
        store.close()
    seconds = time.perf_counter() - started
    cands = [{side.graph.keys[n]: [other.graph.keys[m] for m in side.cands.get(n)]
              for n in side.lists} for side, other in (engine.sides, engine.sides[::-1])]
    return engine.final_alignment(), cands, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=250_000)
    args = parser.parse_args()
    torch.set_num_threads(2)
    pair, bundle = load_dataset(args.dataset), load(args.model)
    runs = {}
    for name, prepare in (("float32", _FLOAT32), ("float16", _float16)):
        vector_index.prepared = prepare
        runs[name] = _stream(pair, bundle, args.batch)
        gc.collect()
        found = summarise(pair, {k: r for k, (r, _) in runs[name][0].items()}, [])
        print(f"{name}: {runs[name][2]:.0f} s, {found.alignments} alignments, P/R/F1 "
              f"{found.precision:.4f} / {found.recall:.4f} / {found.f1:.4f}", flush=True)
    (a32, c32, _), (a16, c16, _) = runs["float32"], runs["float16"]
    same = [k for k in a32 if k in a16 and a16[k][0] == a32[k][0]]
    both = [k for c in (0, 1) for k in c32[c] if k in c16[c]]
    overlap = sum(len(set(c32[c][k]) & set(c16[c][k])) for c in (0, 1) for k in c32[c]
                  if k in c16[c])
    listed = sum(len(c32[c][k]) for c in (0, 1) for k in c32[c] if k in c16[c])
    summary = {name: vars(summarise(pair, {k: r for k, (r, _) in runs[name][0].items()}, []))
               for name in runs}
    print(json.dumps({
        "lefts_either": len(a32.keys() | a16.keys()), "identical_decisions": len(same),
        "identical_share": round(len(same) / max(len(a32.keys() | a16.keys()), 1), 5),
        "max_score_diff_identical": max((abs(a32[k][1] - a16[k][1]) for k in same),
                                        default=0.0),
        "candidate_overlap": round(overlap / max(listed, 1), 5), "lists_compared": len(both),
        "float32": {k: summary["float32"][k] for k in ("precision", "recall", "f1")},
        "float16": {k: summary["float16"][k] for k in ("precision", "recall", "f1")}}))


if __name__ == "__main__":
    main()
