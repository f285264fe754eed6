"""Streamed engine against the batch aligner on a real dataset: same pairs, same scores?

    python benchmarks/engine_parity.py \\
        --dataset ../shared/datasets/er_benchmarks/itunes_amazon \\
        --model ~/.cache/stream-align/models/er_benchmarks-itunes_amazon --batch 2000

Replays the dataset (seeded shuffle, no labels) through the engine in micro-batches, drains the
deferred queue, and compares the final one-to-one alignment with ``stream-align align``'s
(``engine.batch_align``) under the same retrieval and threshold settings. The unit test
``test_engine_stream_orders_and_batch_agree`` checks the same on small synthetic graphs.
``--load N`` streams the first N events as one bulk batch (and its drain) and the rest in
batches of ``--batch`` (the steady tail); ``--engine FIELD=VALUE`` overrides an engine setting
(``vector_tolerance=1e-4``: decision 0073). The last line is one JSON object: the share of
entities of each graph whose decision (its partner, or none) equals the batch aligner's, and
both alignments' precision / recall / F1 on the gold test pairs (as ``stream-align summary``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from stream_align.engine.batch_align import align
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.eval.stream_summary import summarise
from stream_align.model.artifact import load
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=2000, help="events per micro-batch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--load", type=int, default=0,
                        help="stream the first LOAD events as one batch (and its drain)")
    parser.add_argument("--engine", action="append", default=[], metavar="FIELD=VALUE",
                        help="override an EngineSettings field, e.g. vector_tolerance=1e-4")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pair, bundle = load_dataset(args.dataset), load(args.model)
    events = list(triple_changes(pair, ReplayOrder.SHUFFLE, 11))
    settings = EngineSettings(**{"min_score_delta": 0.0,
                                 **dict(o.split("=", 1) for o in args.engine)})
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(StoreSettings(path=Path(tmp)))
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        if args.load:
            _drained(store, engine, events[:args.load])
            print(f"loaded {args.load} events in {time.perf_counter() - started:.1f}s",
                  flush=True)
        tail, tail_cpu = events[args.load:], time.process_time()
        for i in range(0, len(tail), args.batch):
            with store.transaction() as tx:
                process_into(tx, engine, tail[i:i + args.batch], [])
        _drained(store, engine, [])
        tail_cpu = time.process_time() - tail_cpu
        store.close()
    streamed = engine.final_alignment()
    print(f"streamed {len(events)} events in {time.perf_counter() - started:.1f}s "
          f"({time.process_time() - cpu:.1f}s CPU; the {len(tail)} after the load "
          f"{1000 * tail_cpu / max(len(tail), 1):.2f} ms CPU each)", flush=True)
    found = align(ModelScorer(bundle, pair), AlignSettings(
        candidates=settings.top_k, csls_depth=settings.csls_depth,
        csls_k=settings.csls_k, anchor_candidates=settings.anchor_candidates,
        anchor_fanout=settings.anchor_fanout, threshold=settings.match_threshold,
        unnamed_threshold=settings.unnamed_threshold, evidence=0))
    batch = {m.left: (m.right, m.score) for m in found}
    same = [k for k, (right, _) in streamed.items() if batch.get(k, ("",))[0] == right]
    worst = max((abs(streamed[k][1] - batch[k][1]) for k in same), default=0.0)
    print(f"streamed {len(streamed)} pairs, batch {len(batch)}; identical {len(same)}; "
          f"max score difference on identical pairs {worst:.2e}")
    rights = ({right: left for left, (right, _) in streamed.items()},
              {right: left for left, (right, _) in batch.items()})
    equal = (sum(streamed.get(k, ("",))[0] == batch.get(k, ("",))[0] for k in pair.a.keys),
             sum(rights[0].get(k) == rights[1].get(k) for k in pair.b.keys))
    gold = (summarise(pair, {k: v[0] for k, v in streamed.items()}, []),
            summarise(pair, {k: v[0] for k, v in batch.items()}, []))
    print(json.dumps({"settings": args.engine, "load": args.load, "batch": args.batch,
                      "streamed_prf": [round(gold[0].precision, 4), round(gold[0].recall, 4),
                                       round(gold[0].f1, 4)],
                      "batch_prf": [round(gold[1].precision, 4), round(gold[1].recall, 4),
                                    round(gold[1].f1, 4)],
                      "streamed": len(streamed), "batch_pairs": len(batch),
                      "identical_pairs": len(same),
                      "decisions_equal_a": round(equal[0] / len(pair.a.keys), 6),
                      "decisions_equal_b": round(equal[1] / len(pair.b.keys), 6),
                      "decisions_equal": round(sum(equal) / (len(pair.a.keys)
                                                             + len(pair.b.keys)), 6),
                      "tail_ms_cpu_per_event": round(1000 * tail_cpu / max(len(tail), 1), 3)}))


def _drained(store: StateStore, engine: AlignmentEngine, events: list) -> None:
    """One batch of ``events`` and the calls that drain its queue, each committed."""
    with store.transaction() as tx:
        process_into(tx, engine, events, [])
    while engine.pending_count:
        with store.transaction() as tx:
            process_into(tx, engine, [], [])


if __name__ == "__main__":
    main()
