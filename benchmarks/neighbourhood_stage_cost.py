"""Cost of the engine's neighbourhood stage on ContEA ZH-EN: a rebuild, then per event.

    python benchmarks/neighbourhood_stage_cost.py --dataset ../shared/datasets/contea/ZH-EN \
        --model M --cache DIR --snapshot 1 --rounds 2 --chunk 1000

The stage alone (``engine/neighbourhood_stage.py``), without the model: mirrors hold snapshot
``k - 1``'s triples and every entity of snapshot ``k``; round one's anchors are the seed links
and the named matches of ``contea_structure.py``'s cached encode of snapshot ``k`` (the same
anchors the batch rule uses). Timed: the first refresh (relations learnt, every table built —
what a restore or a relearn costs), then snapshot ``k``'s triples streamed in chunks of
``--chunk`` with one refresh each (the per-event cost), then 1,000 anchors withdrawn and given
back one refresh each. At the end the stage's matches are checked against the batch rule on the
same graphs and relations. Reads no test link.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from contea_rules import contea_parser, open_contea
from contea_structure import _Named, encoded

from stream_align.engine.batch_align import one_to_one, thresholds
from stream_align.engine.mutable_graph import NAME, MutableGraph
from stream_align.engine.neighbourhood import neighbourhood_matches
from stream_align.engine.neighbourhood_stage import NeighbourhoodStage
from stream_align.eval.snapshot_metrics import snapshot_pair
from stream_align.model.settings import AlignSettings


def mirror(label: str, graph, triples: np.ndarray) -> MutableGraph:
    g = MutableGraph(label, label)
    for key, name in zip(graph.keys, graph.names, strict=True):
        g.upsert(key, "", {NAME: name} if name else {})
    for r in graph.relations:
        g.relation_id(r)
    g.load_triples(triples.astype(np.int64).reshape(-1, 3))
    return g


def main() -> None:
    parser = contea_parser(__doc__)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--snapshot", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=1000)
    args = parser.parse_args()
    bundle, pair, timeline = open_contea(args)
    k = args.snapshot
    sub, _, _ = snapshot_pair(pair, timeline, k)
    prev, _, _ = snapshot_pair(pair, timeline, k - 1)
    pairs, scores = encoded(bundle, sub, k, args.cache)
    by_name = pairs[one_to_one(pairs, scores, thresholds(
        _Named(sub), pairs, AlignSettings(neighbourhood_rounds=1), scores))]
    named = {(int(a), int(b)) for a, b in by_name.tolist() if sub.a.names[a] and sub.b.names[b]}
    seeds = {(int(a), int(b)) for a, b in sub.train.tolist()}
    seeds_a, seeds_b = {a for a, _ in seeds}, {b for _, b in seeds}
    anchors = seeds | {(a, b) for a, b in named if a not in seeds_a and b not in seeds_b}
    index = ({key: i for i, key in enumerate(sub.a.keys)},
             {key: i for i, key in enumerate(sub.b.keys)})
    old = [np.stack([[index[s][g.keys[h]], r, index[s][g.keys[t]]]
                     for h, r, t in g.triples.tolist()]) for s, g in enumerate((prev.a, prev.b))]
    graphs = mirror("A", sub.a, old[0]), mirror("B", sub.b, old[1])
    fresh = [np.array(sorted(set(map(tuple, g.triples.tolist())) - set(map(tuple, o.tolist()))))
             for g, o in zip((sub.a, sub.b), old, strict=True)]
    decider = SimpleNamespace(forced_left={}, forced_right={}, matched_right={}, matches={
        sub.a.keys[a]: sub.b.keys[b] for a, b in anchors})
    decider.matched_right = {b: a for a, b in decider.matches.items()}
    stage = NeighbourhoodStage(graphs, args.rounds)
    tick = time.perf_counter()
    stage.update(decider, (set(), set()), (set(decider.matches), set(decider.matched_right)))
    first = time.perf_counter() - tick
    print(f"snapshot {timeline.names[k]}: {len(anchors):,} anchors, "
          f"{graphs[0].triple_count + graphs[1].triple_count:,} triples before it; "
          f"first refresh (relations + every table, {args.rounds} rounds): {first:.1f} s, "
          f"{len(stage.current()):,} matches")
    events = [(s, row) for s in (0, 1) for row in fresh[s].tolist()]
    order = np.random.default_rng(0).permutation(len(events))
    tick, refreshes = time.perf_counter(), 0
    for start in range(0, len(events), args.chunk):
        touched: tuple[set[int], set[int]] = (set(), set())
        for i in order[start:start + args.chunk].tolist():
            s, (h, r, t) = events[i]
            graphs[s].add_triple(h, r, t)
            touched[s].update((h, t))
        stage.update(decider, touched, (set(), set()))
        refreshes += 1
    spent = time.perf_counter() - tick
    print(f"{len(events):,} triples in {refreshes} refreshes: {spent:.1f} s, "
          f"{1e3 * spent / max(len(events), 1):.3f} ms per triple; "
          f"relations learnt at {stage.learnt_at}, {len(stage.current()):,} matches")
    moved = sorted(decider.matches)[:1000]
    tick = time.perf_counter()
    for left in moved:
        right = decider.matches.pop(left)
        del decider.matched_right[right]
        stage.update(decider, (set(), set()), ({left}, {right}))
        decider.matches[left], decider.matched_right[right] = right, left
        stage.update(decider, (set(), set()), ({left}, {right}))
    spent = time.perf_counter() - tick
    print(f"{len(moved):,} anchors withdrawn and given back (2 refreshes each): {spent:.1f} s, "
          f"{1e3 * spent / max(2 * len(moved), 1):.2f} ms per anchor change")
    batch = neighbourhood_matches(sub.a, sub.b, np.array(sorted(anchors)), args.rounds,
                                  relations=stage.relations)
    got = sorted([a, b] for a, (b, _) in stage.current().items())
    print(f"stage = batch rule on the same graphs and relations: {got == sorted(batch.tolist())}")


if __name__ == "__main__":
    main()
