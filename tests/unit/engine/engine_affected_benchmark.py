"""Measure affected-set sizes per inserted triple; the numbers in docs/decisions/0005.

    python tests/unit/engine/engine_affected_benchmark.py --dataset ../shared/datasets/dbp15k/zh_en

Holds out ``--inserts`` random triples of graph B, loads the rest into the engine's mirror and
sample index, then inserts the held-out triples one at a time and records, per insert, the exact
affected set ``D`` (``affected``) against the naive ``{h, t} ∪ N(h) ∪ N(t)``, and the time to
refresh samples and recompute ``D`` exactly with a freshly initialised model (default sizes).
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from test_engine_recompute import _mirror

from stream_align.engine.affected import SampleIndex
from stream_align.engine.recompute import encode_local, row_vectors
from stream_align.eval.datasets.loader import load_dataset
from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import CGMuAlign
from stream_align.model.inputs import fit_frozen
from stream_align.model.settings import (
    ArchitectureSettings,
    FeatureSettings,
    SamplingSettings,
    TrainSettings,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--inserts", type=int, default=2000)
    parser.add_argument("--recompute", type=int, default=200, help="inserts also recomputed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pair = load_dataset(args.dataset)
    frozen = fit_frozen(pair, FeatureSettings(), SamplingSettings())
    arch = ArchitectureSettings()
    bundle = ModelBundle(CGMuAlign(frozen, arch, "hinge").eval(), frozen, arch, TrainSettings())
    graph, rng = pair.b, np.random.default_rng(0)
    held = rng.choice(len(graph.triples), args.inserts, replace=False)
    inserts = graph.triples[held]
    graph.triples = np.delete(graph.triples, held, axis=0)
    mirror = _mirror(graph)
    samples = SampleIndex(mirror, frozen)
    samples.refresh(range(graph.num_entities))
    exact, naive, seconds = [], [], []
    for k, (h, r, t) in enumerate(inserts.tolist()):
        started = time.perf_counter()
        mirror.add_triple(h, mirror.relation_id(graph.relations[r]), t)
        typed, sampled = samples.refresh({h, t})
        affected = samples.affected(typed, sampled)
        if k < args.recompute and affected:
            local = encode_local(bundle, samples, sorted(affected))
            row_vectors(bundle, local, local.rows(sorted(affected)), query=False)
            seconds.append(time.perf_counter() - started)
        exact.append(len(affected))
        hood = {h, t} | {x for n in (h, t) for e in mirror.edges(n) for x in (e[0], e[2])}
        naive.append(len(hood))
    for name, sizes in (("exact D", exact), ("{h,t} ∪ N(h) ∪ N(t)", naive)):
        print(f"{name}: mean {np.mean(sizes):.1f}, p50 {np.percentile(sizes, 50):.0f}, "
              f"p99 {np.percentile(sizes, 99):.0f}, max {max(sizes)}")
    print(f"zero-cost inserts (D empty): {np.mean(np.array(exact) == 0):.1%}")
    print(f"refresh + exact recompute per insert: mean {1e3 * np.mean(seconds):.1f} ms, "
          f"p99 {1e3 * np.percentile(seconds, 99):.1f} ms over {len(seconds)} inserts")


if __name__ == "__main__":
    main()
