"""Neighbourhood matches for unnamed entities on ContEA snapshots, from one encode per snapshot.

    python benchmarks/contea_structure.py --dataset ../shared/datasets/contea/ZH-EN --model M \
        --margin 0.1 --rounds 2 --cache DIR

Per snapshot: encode from scratch, apply today's opt-in rule (``--margin``: decision 0026's
unnamed margin), then what ``stream-align align --neighbourhood-rounds R`` does for R = 1..
``--rounds``: pairs with an unnamed entity are not matched by score (it does not separate
them), and unnamed entities are matched by ``engine/neighbourhood.py`` — anchored on the named
matches and the seed links (train), never a test link: relations corresponding under the
anchors, unique mutual best by relation-consistent anchored neighbours, R rounds of
self-training.
Each stage is scored with ContEA's counting (all links, new links); test links are read to
score only. ``--cache`` keeps each snapshot's candidate pairs and scores per model version (an
encode of batch5 takes many minutes) so that the rule can be re-read cheaply.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from contea_rules import contea_parser, open_contea

from stream_align.engine.batch_align import candidates, one_to_one, thresholds
from stream_align.engine.neighbourhood import Fanout, rematch_unnamed
from stream_align.eval.snapshot_metrics import Timeline, score_snapshot, snapshot_pair
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings


def encoded(bundle, sub, k: int, cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs and scores of snapshot ``k`` (cached per model version)."""
    path = None if cache is None else cache / f"{bundle.version}-{k}.npz"
    if path is not None and path.exists():
        data = np.load(path)
        return data["pairs"], data["scores"]
    scorer = ModelScorer(bundle, sub)
    pairs = candidates(scorer, 10)
    scores, _ = scorer.pair_scores(pairs[:, 0], pairs[:, 1])
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, pairs=pairs, scores=scores)
    return pairs, scores


class _Named:
    """Enough of a scorer for ``thresholds``: the snapshot's names."""

    def __init__(self, sub) -> None:
        self.pair = sub


def report(timeline: Timeline, k: int, keep: tuple[np.ndarray, np.ndarray], stage: str,
           matched: np.ndarray) -> None:
    """One table row: ``matched`` (snapshot indices) scored with ContEA's counting."""
    out = score_snapshot(timeline, k, np.stack([keep[0][matched[:, 0]],
                                                keep[1][matched[:, 1]]], 1))
    a, n = out["all"], out["new"]
    new = (f"{n.precision:.3f} | {n.recall:.3f} | {n.f1:.3f} | {a.predicted:,} "
           f"({n.predicted:,})") if n else f"– | – | – | {a.predicted:,}"
    print(f"| {timeline.names[k]} | {stage} | {a.precision:.3f} | {a.recall:.3f} | "
          f"**{a.f1:.3f}** | {new} |", flush=True)


def main() -> None:
    parser = contea_parser(__doc__)
    parser.add_argument("--margin", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-fanout", type=int, default=64)
    parser.add_argument("--group-fanout", type=int, default=16)
    parser.add_argument("--threshold", type=float, default=0.5, help="match threshold")
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--snapshots", type=int, nargs="*", help="default: all")
    args = parser.parse_args()
    bundle, pair, timeline = open_contea(args)
    rule = AlignSettings(threshold=args.threshold, unnamed_margin=args.margin, evidence=0)
    structure = AlignSettings(threshold=args.threshold, neighbourhood_rounds=args.rounds,
                              evidence=0)
    print("| snapshot | stage | P | R | F1 | new P | new R | new F1 | predicted (new) |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for k in args.snapshots if args.snapshots is not None else range(len(timeline)):
        started = time.perf_counter()
        sub, keep_a, keep_b = snapshot_pair(pair, timeline, k)
        pairs, scores = encoded(bundle, sub, k, args.cache)
        chosen = pairs[one_to_one(pairs, scores, thresholds(_Named(sub), pairs, rule, scores))]
        keep = keep_a, keep_b
        report(timeline, k, keep, f"margin={args.margin}", chosen)
        seconds = time.perf_counter() - started
        by_name = pairs[one_to_one(pairs, scores, thresholds(_Named(sub), pairs, structure,
                                                              scores))]
        report(timeline, k, keep, "unnamed pairs not matched by score", by_name)
        for rounds in range(1, args.rounds + 1):
            tick = time.perf_counter()
            got = rematch_unnamed(sub.a, sub.b, by_name, sub.train, rounds,
                                  Fanout(args.max_fanout, args.group_fanout),
                                  scored=(pairs, scores >= args.threshold))
            report(timeline, k, keep, f"+ neighbourhood, {rounds} round(s) "
                   f"({time.perf_counter() - tick:.1f} s)", got)
        print(f"<!-- {timeline.names[k]}: encode + score + rule {seconds:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
