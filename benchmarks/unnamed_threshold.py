"""Calibrate ``unnamed_threshold`` on validation links made to look like new, unnamed entities.

    python benchmarks/unnamed_threshold.py --dataset ../shared/datasets/contea/ZH-EN --model M

ContEA's new entities arrive without names and with a few triples, so the model scores them on
structure alone, and the plain match threshold lets most of them match something wrong. This
takes the base snapshot (what the model was trained on), blanks the names of both entities of
every validation link and keeps at most ``--max-degree`` of each one's triples (seeded), encodes
the graphs from scratch and batch-aligns them with the engine's rule — named pairs at the match
threshold, pairs with an unnamed entity at ``t`` — for a grid of ``t``, then for a grid of
unnamed margins ``m`` (a pair with an unnamed entity must beat its runner-up by ``m``). It
prints precision, recall and F1 of the unnamed entities' matches against the validation links,
the ``t`` with the best F1 and the lowest ``t`` (and ``m``) whose precision reaches
``--precision``: candidates for ``--unnamed-threshold`` / ``engine.unnamed_threshold``
(``--unnamed-margin`` / ``engine.unnamed_margin``). No test link is read.

Every simulated entity has its counterpart in the other graph and keeps named neighbours, so
these precisions are upper bounds: most of ContEA's new entities have no counterpart at all
(batch1 adds 37,700 entities and 1,531 new test links). Hence the precision target.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from stream_align.engine.batch_align import candidates, one_to_one, thresholds
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.snapshot_metrics import Timeline, snapshot_pair
from stream_align.graph import Graph, GraphPair
from stream_align.model.artifact import load
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings


def unnamed_copy(graph: Graph, hidden: np.ndarray, max_degree: int,
                 rng: np.random.Generator) -> Graph:
    """``graph`` with ``hidden`` entities unnamed and left with at most ``max_degree`` triples
    each (0: all kept)."""
    names = list(graph.names)
    for i in hidden.tolist():
        names[i] = ""
    triples = graph.triples
    if max_degree:
        order = rng.permutation(len(triples))
        seen: dict[int, int] = {}
        keep = np.ones(len(triples), dtype=bool)
        mask = np.zeros(graph.num_entities, dtype=bool)
        mask[hidden] = True
        for t in order.tolist():
            ends = [int(e) for e in triples[t, [0, 2]] if mask[e]]
            if any(seen.get(e, 0) >= max_degree for e in ends):
                keep[t] = False
                continue
            for e in ends:
                seen[e] = seen.get(e, 0) + 1
        triples = triples[keep]
    return replace(graph, names=names, triples=triples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--max-degree", type=int, default=3,
                        help="triples kept per unnamed entity (ContEA's new ones have 1-3)")
    parser.add_argument("--precision", type=float, default=0.75,
                        help="precision the unnamed matches should reach on validation")
    parser.add_argument("--match-threshold", type=float, default=0.5)
    parser.add_argument("--margins", type=float, nargs="*",
                        default=[0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2],
                        help="unnamed margins tried (decision 0026), at the match threshold")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    bundle = load(args.model)
    pair = load_dataset(args.dataset, seed=int(bundle.provenance.get("seed", 0)))
    base, _, _ = snapshot_pair(pair, Timeline.of(pair), 0)
    valid = base.valid[(base.valid >= 0).all(axis=1)]
    rng = np.random.default_rng(0)
    sub = GraphPair(name=base.name, train=base.train, valid=valid, test=base.test,
                    a=unnamed_copy(base.a, valid[:, 0], args.max_degree, rng),
                    b=unnamed_copy(base.b, valid[:, 1], args.max_degree, rng))
    scorer = ModelScorer(bundle, sub, rerank_k=args.top_k)
    pairs = candidates(scorer, args.top_k)
    scores, _ = scorer.pair_scores(pairs[:, 0], pairs[:, 1])
    unnamed_a = np.zeros(sub.a.num_entities, dtype=bool)
    unnamed_b = np.zeros(sub.b.num_entities, dtype=bool)
    unnamed_a[valid[:, 0]], unnamed_b[valid[:, 1]] = True, True
    unnamed = unnamed_a[pairs[:, 0]] | unnamed_b[pairs[:, 1]]
    gold = {(int(a), int(b)) for a, b in valid.tolist()}
    print(f"{len(valid)} validation links unnamed (at most {args.max_degree} triples each); "
          f"{int(unnamed.sum())} of {len(pairs)} candidate pairs have an unnamed entity")
    print("| unnamed threshold | unnamed margin | unnamed matches | right | P | R | F1 |\n"
          "|---|---|---|---|---|---|---|")
    grid = [(t, None) for t in np.round(np.arange(args.match_threshold, 1.0001, 0.025), 3)]
    grid += [(args.match_threshold, m) for m in args.margins]
    best, reached = (-1.0, "", ""), {}
    for t, m in grid:
        limit = thresholds(scorer, pairs, AlignSettings(threshold=args.match_threshold,
                                                        unnamed_threshold=float(t),
                                                        unnamed_margin=m), scores)
        chosen = pairs[one_to_one(pairs, scores, limit)]
        mine = chosen[unnamed_a[chosen[:, 0]] | unnamed_b[chosen[:, 1]]]
        right = sum((int(a), int(b)) in gold for a, b in mine.tolist())
        p = right / len(mine) if len(mine) else 0.0
        r = right / len(valid)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        best = max(best, (f1, f"{t:.3f}", f"{m}"))
        if p >= args.precision:
            reached.setdefault("margin" if m is not None else "threshold", (t, m))
        print(f"| {t:.3f} | {m} | {len(mine)} | {right} | {p:.3f} | {r:.3f} | {f1:.3f} |")
    print(f"best F1 {best[0]:.3f} at unnamed threshold {best[1]}, margin {best[2]}; precision "
          f"{args.precision} first reached at (threshold, margin) {reached}")

if __name__ == "__main__":
    main()
