"""What a bulk drain's recompute costs a vector, by chunk size: local rows and CPU per vector.

    python benchmarks/drain_cost.py --dataset /tmp/data-zh_en-80000-0.25 --model M \\
        --chunks 2000,4000,10000,32768

One bulk call holds the whole dataset (budget ``--budget``: nearly every embedding queued), then
chunks of graph A's queued nodes, oldest first, are encoded as the recompute stage encodes them
(``encode_local`` with the kept rows and the queued nodes stale, then ``row_vectors``) — and,
last, every queued node in blocks of ``recompute_chunk``. A chunk's cost follows its local
graph: the summaries of its 2-hop closure and their endpoints, so a chunk small against the
graph encodes many rows a vector (decision 0094).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from stream_align.engine.engine import AlignmentEngine
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

    def encode(nodes: list[int]) -> int:
        local = encode_local(bundle, side.samples, nodes, side.features,
                             kept=(side.level1, stale), anchors=side.anchor_ids)
        row_vectors(bundle, local, local.rows(nodes), side.query)
        return len(local.globals)

    for size in args.chunks:
        nodes = queued[:size]
        started = time.process_time()
        rows = encode(nodes)
        cpu = time.process_time() - started
        print(f"chunk {len(nodes)}: {rows} local rows ({rows / len(nodes):.1f} a vector), "
              f"{cpu:.2f} s CPU, {1e6 * cpu / len(nodes):.0f} µs a vector", flush=True)
    started, rows = time.process_time(), 0
    block = settings.recompute_chunk
    for lo in range(0, len(queued), block):
        rows += encode(queued[lo:lo + block])
    cpu = time.process_time() - started
    print(f"all {len(queued)} in blocks of {block}: {rows} local rows "
          f"({rows / len(queued):.1f} a vector), {cpu:.2f} s CPU, "
          f"{1e6 * cpu / len(queued):.0f} µs a vector", flush=True)


if __name__ == "__main__":
    main()
