"""Recompute with kept ``h1`` rows against the 2-hop closure: local graph size, time, identity.

    python benchmarks/kept_rows.py --dataset ../shared/datasets/dbp15k/zh_en --model M

Builds graph A's mirror and samples, keeps every ``h1`` from a closure encode, then recomputes
``--trials`` affected sets (an insert's: the ``D`` of two touched entities, at most 11 nodes)
both ways on one thread; prints the mean local rows and time per recompute and the largest
difference between the two ways' vectors (decision 0030).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from stream_align.engine.affected import SampleIndex
from stream_align.engine.level1_cache import LevelOneCache
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.recompute import encode_local, row_vectors
from stream_align.eval.datasets.loader import load_dataset
from stream_align.graph import Graph
from stream_align.model.artifact import load


def _mirror(graph: Graph) -> MutableGraph:
    mirror = MutableGraph(graph.label, graph.label)
    for i, key in enumerate(graph.keys):
        name = {"name": graph.names[i]} if graph.names[i] else {}
        mirror.upsert(key, graph.types[i], dict(graph.attributes[i]) | name)
    for h, r, t in graph.triples.tolist():
        mirror.add_triple(h, mirror.relation_id(graph.relations[r]), t)
    return mirror


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(1)
    bundle, graph = load(args.model), load_dataset(args.dataset).a
    samples = SampleIndex(_mirror(graph), bundle.frozen)
    samples.refresh(range(graph.num_entities))
    kept = LevelOneCache()
    for lo in range(0, graph.num_entities, 4096):
        part = list(range(lo, min(lo + 4096, graph.num_entities)))
        encode_local(bundle, samples, part).keep_level1(kept)
    rng = np.random.default_rng(0)
    rows, seconds, diff = [0, 0], [0.0, 0.0], 0.0
    for _ in range(args.trials):
        touched = {int(x) for x in rng.choice(graph.num_entities, 2, replace=False)}
        nodes = sorted(samples.affected(touched, set()))[:11] or sorted(touched)
        out = []
        for way, opts in enumerate(({}, {"kept": (kept, set(nodes))})):
            started = time.perf_counter()
            local = encode_local(bundle, samples, nodes, **opts)
            out.append(row_vectors(bundle, local, local.rows(nodes), query=True))
            seconds[way] += time.perf_counter() - started
            rows[way] += len(local.globals)
        diff = max(diff, float(np.abs(out[0] - out[1]).max()))
    n = args.trials
    print(f"{n} recomputes: local rows {rows[0] / n:.0f} (closure) -> {rows[1] / n:.0f} (kept); "
          f"{1000 * seconds[0] / n:.1f} -> {1000 * seconds[1] / n:.1f} ms each; "
          f"max vector difference {diff:.2e}")


if __name__ == "__main__":
    main()
