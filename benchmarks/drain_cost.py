"""What a bulk drain's recompute costs a vector, by chunk size: local rows and CPU per vector.

    python benchmarks/drain_cost.py --dataset /tmp/data-zh_en-80000-0.25 --model M \\
        --chunks 2000,4000,10000,32768

One bulk call holds the whole dataset (budget ``--budget``: nearly every embedding queued), then
chunks of graph A's queued nodes, oldest first, are encoded as the recompute stage encodes them
(``encode_local`` with the kept rows and the queued nodes stale, then ``row_vectors``) — and,
last, every queued node in blocks of ``recompute_chunk``. A chunk's cost follows its local
graph: the summaries of its 2-hop closure and their endpoints, so a chunk small against the
graph encodes many rows a vector (decision 0094). ``--levelwise``: each chunk (after its local
encode) is encoded level-wise too (``engine.levelwise``, its ``h0`` rows computed afresh per
chunk size; the blocks of every queued node share them, as a drain does), with how many
vectors differ from the local encode's and by how much (decision 0095).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.levelwise import encode_levelwise
from stream_align.engine.recompute import encode_local, row_vectors
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.model.artifact import load


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--chunks", type=_ints, default=[2000, 4000, 10000, 32768])
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--levelwise", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bundle, pair = load(args.model), load_dataset(args.dataset)
    settings = EngineSettings(max_affected_per_batch=args.budget)
    engine = AlignmentEngine.empty(bundle, settings)
    engine.process(list(triple_changes(pair, ReplayOrder.SHUFFLE, 7)), list(labels(pair)))
    side, pending = engine.sides[0], engine.pending[0]
    queued = sorted(pending, key=pending.__getitem__)
    stale = set(queued)
    print(f"graph A: {len(queued)} queued", flush=True)

    def encode(nodes: list[int]) -> tuple[int, np.ndarray]:
        local = encode_local(bundle, side.samples, nodes, side.features,
                             kept=(side.level1, stale), anchors=side.anchor_ids)
        return len(local.globals), row_vectors(bundle, local, local.rows(nodes), side.query)

    def levelwise(nodes: list[int], want: np.ndarray) -> str:
        started = time.process_time()
        got = encode_levelwise(bundle, side, nodes, stale)
        cpu = time.process_time() - started
        moved = (got != want).any(axis=1)
        return (f"; level-wise {cpu:.2f} s CPU, {1e6 * cpu / len(nodes):.0f} µs a vector, "
                f"{int(moved.sum())} vectors differ (at most {np.abs(got - want).max():.1e})")

    for size in args.chunks:
        nodes = queued[:size]
        started = time.process_time()
        rows, want = encode(nodes)
        cpu = time.process_time() - started
        side.level0.clear()
        print(f"chunk {len(nodes)}: {rows} local rows ({rows / len(nodes):.1f} a vector), "
              f"{cpu:.2f} s CPU, {1e6 * cpu / len(nodes):.0f} µs a vector"
              + (levelwise(nodes, want) if args.levelwise else ""), flush=True)
    block = settings.recompute_chunk
    side.level0.clear()
    rows, local_cpu, level_cpu, moved = 0, 0.0, 0.0, 0
    for lo in range(0, len(queued), block):
        started = time.process_time()
        found, want = encode(queued[lo:lo + block])
        local_cpu += time.process_time() - started
        rows += found
        if args.levelwise:
            started = time.process_time()
            got = encode_levelwise(bundle, side, queued[lo:lo + block], stale)
            level_cpu += time.process_time() - started
            moved += int((got != want).any(axis=1).sum())
    print(f"all {len(queued)} in blocks of {block}: {rows} local rows "
          f"({rows / len(queued):.1f} a vector), {local_cpu:.2f} s CPU, "
          f"{1e6 * local_cpu / len(queued):.0f} µs a vector"
          + (f"; level-wise {level_cpu:.2f} s CPU, {1e6 * level_cpu / len(queued):.0f} µs a "
             f"vector, {moved} vectors differ" if args.levelwise else ""), flush=True)


if __name__ == "__main__":
    main()
