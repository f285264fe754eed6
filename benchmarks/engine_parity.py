"""Streamed engine against the batch aligner on a real dataset: same pairs, same scores?

    python benchmarks/engine_parity.py \\
        --dataset ../shared/datasets/er_benchmarks/itunes_amazon \\
        --model ~/.cache/stream-align/models/er_benchmarks-itunes_amazon --batch 2000

Replays the dataset (seeded shuffle, no labels) through the engine in micro-batches, drains the
deferred queue, and compares the final one-to-one alignment with ``stream-align align``'s
(``engine.batch_align``) under the same retrieval and threshold settings. The unit test
``test_engine_stream_orders_and_batch_agree`` checks the same on small synthetic graphs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from stream_align.engine.batch_align import align
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, triple_changes
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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pair, bundle = load_dataset(args.dataset), load(args.model)
    events = list(triple_changes(pair, ReplayOrder.SHUFFLE, 11))
    settings = EngineSettings(min_score_delta=0.0)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(StoreSettings(path=Path(tmp)))
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        for i in range(0, len(events), args.batch):
            with store.transaction() as tx:
                process_into(tx, engine, events[i:i + args.batch], [])
        while engine.pending_count:
            with store.transaction() as tx:
                process_into(tx, engine, [], [])
        store.close()
    streamed = engine.final_alignment()
    print(f"streamed {len(events)} events in {time.perf_counter() - started:.1f}s", flush=True)
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


if __name__ == "__main__":
    main()
