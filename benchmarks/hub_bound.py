"""The hub bound on real data: rename the most-sampled entity of a loaded graph and drain.

    python benchmarks/hub_bound.py --dataset ../shared/datasets/dbp15k/zh_en --model M \\
        --bound 2000

Loads the whole dataset into the engine (one bulk call, drained), picks the entity of graph B
that the most other entities sample, and upserts it with a changed name: its level-0 features
change, so every entity whose embedding reads it must be recomputed (``affected``). With
``max_affected_per_batch = --bound`` the engine recomputes at most that many per call and
queues the rest; the script prints each call's wall time and work until the queue is empty,
then does the same on an unbounded engine (the rename in one call) and compares the drained
states: identical matches, scores and vectors within 1e-5.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.events.contracts import Label, TripleChange
from stream_align.model.artifact import load
from stream_align.model.bundle import ModelBundle
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

Vectors = dict[str, np.ndarray]


def _drain(store: StateStore, engine: AlignmentEngine, events: list[TripleChange],
           seeds: list[Label], verbose: bool) -> None:
    """One call with the input, then input-free calls until nothing is queued."""
    batch: tuple[list[TripleChange], list[Label]] = (events, seeds)
    first = time.perf_counter()
    while True:
        started = time.perf_counter()
        with store.transaction() as tx:
            out = process_into(tx, engine, *batch)
        if verbose:
            print(f"  call: {time.perf_counter() - started:6.1f} s, recomputed "
                  f"{out.stats['recomputed']:>6,.0f}, affected {out.stats['affected']:>6,.0f}, "
                  f"still queued {engine.pending_count:>6,}, events {len(out.events)}",
                  flush=True)
        if not engine.pending_count:
            if verbose:
                print(f"  drained in {time.perf_counter() - first:.1f} s", flush=True)
            return
        batch = ([], [])


def _vectors(engine: AlignmentEngine) -> tuple[Vectors, Vectors]:
    out = []
    for side in engine.sides:
        nodes = side.indexed().tolist()
        rows = side.vectors(nodes)
        out.append({side.graph.keys[n]: row for n, row in zip(nodes, rows, strict=True)})
    return out[0], out[1]


def _hub(engine: AlignmentEngine) -> TripleChange:
    """A rename of graph B's entity sampled by the most others."""
    samples, graph = engine.sides[1].samples, engine.sides[1].graph
    node = samples.most_sampled()
    entity = graph.entity(node)
    assert entity is not None
    print(f"hub: {graph.keys[node]} in graph B, sampled by {len(samples.samplers(node)):,} "
          "entities; renamed", flush=True)
    return TripleChange.upsert_entity(
        engine.settings.graph_ids[1], graph.keys[node], entity.type or None,
        dict(entity.attributes) | {"name": f"{entity.name} (renamed)"},
        id_from=("hub-rename", graph.keys[node]))


def _run(bundle: ModelBundle, settings: EngineSettings, events: list[TripleChange],
         seeds: list[Label], rename: TripleChange | None
         ) -> tuple[dict[str, tuple[str, float]], tuple[Vectors, Vectors], TripleChange]:
    """Load ``events`` (drained), then apply ``rename`` (or pick one) and drain it."""
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(StoreSettings(path=Path(tmp)))
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        _drain(store, engine, events, seeds, False)
        if rename is None:
            rename = _hub(engine)
        else:
            _drain(store, engine, [rename], [], True)
        result = engine.final_alignment(), _vectors(engine), rename
        store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--bound", type=int, default=2000, help="max_affected_per_batch")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pair = load_dataset(args.dataset)
    events, seeds = list(triple_changes(pair, ReplayOrder.SHUFFLE, 7)), list(labels(pair))
    bundle = load(args.model)
    bounded = EngineSettings(max_affected_per_batch=args.bound)

    _, _, rename = _run(bundle, bounded, events, seeds, None)
    gc.collect()
    print(f"bound {args.bound:,} recomputes per call:", flush=True)
    streamed, vectors, _ = _run(bundle, bounded, events, seeds, rename)
    gc.collect()
    print("unbounded:", flush=True)
    reference, ref_vectors, _ = _run(bundle, EngineSettings(max_affected_per_batch=10**9),
                                     events, seeds, rename)
    same = {k: v[0] for k, v in streamed.items()} == {k: v[0] for k, v in reference.items()}
    score = max((abs(streamed[k][1] - reference[k][1]) for k in streamed), default=0.0)
    vector = max(float(np.abs(vectors[s][k] - ref_vectors[s][k]).max())
                 for s in (0, 1) for k in ref_vectors[s])
    print(f"against an unbounded engine: matches identical {same} ({len(streamed):,}); "
          f"max score difference {score:.2e}; max vector difference {vector:.2e}")


if __name__ == "__main__":
    main()
